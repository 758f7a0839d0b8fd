//! The path from the network to Weft's SIP core: what rsipstack does to a datagram before the
//! core sees it, and the signing of the credentials it carries.

use std::net::SocketAddr;

use rsipstack::sip::headers::make_header;
use rsipstack::sip::{Request, SipMessage, Transport};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::SipConnection;

use crate::sign;

/// A datagram from `from` as rsipstack's UDP transport and transaction layer hand it on:
/// parsed, its top Via stamped with `received`/`rport`, and with the headers a transaction key
/// needs. `None` for what the stack drops before Weft sees it.
pub fn receive(data: &[u8], from: SocketAddr) -> Option<SipMessage> {
    let message = SipMessage::try_from(data).ok()?;
    let message = SipConnection::update_msg_received(message, from, Transport::Udp).ok()?;
    match &message {
        SipMessage::Request(req) => TransactionKey::from_request(req, TransactionRole::Server),
        SipMessage::Response(resp) => TransactionKey::from_response(resp, TransactionRole::Client),
    }
    .ok()?;
    Some(message)
}

/// `req` with its `Authorization` and `Proxy-Authorization` credentials signed (see
/// [`sign::sign`]); `None` when it carries none that can be.
pub fn signed(req: &Request) -> Option<Request> {
    let method = req.method.to_string();
    let mut out = req.clone();
    let mut changed = false;
    for name in ["Authorization", "Proxy-Authorization"] {
        let Some(header) = out
            .headers
            .iter_mut()
            .find(|h| h.name().eq_ignore_ascii_case(name))
        else {
            continue;
        };
        if let Some(value) = sign::sign(header.value(), &method) {
            *header = make_header(name, value);
            changed = true;
        }
    }
    changed.then_some(out)
}
