//! The transactions of the SIP stack: server transactions pumped and answered for the core,
//! client transactions created, sent, pumped and cancelled on its behalf.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Request, Response, SipMessage};
use rsipstack::transaction::Transaction;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::{TransactionEvent, TransactionEventSender};
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::mpsc::UnboundedSender;

use super::Input;
use crate::account::{Peer, Transport};
use crate::core::{ClientTx, ServerTx};

/// The stack's transport for ours.
fn stack_transport(t: Transport) -> rsipstack::sip::Transport {
    match t {
        Transport::Udp => rsipstack::sip::Transport::Udp,
        Transport::Tcp => rsipstack::sip::Transport::Tcp,
        Transport::Tls => rsipstack::sip::Transport::Tls,
    }
}

/// Ours for the stack's (`None` for transports Weft does not serve).
fn our_transport(t: rsipstack::sip::Transport) -> Option<Transport> {
    match t {
        rsipstack::sip::Transport::Udp => Some(Transport::Udp),
        rsipstack::sip::Transport::Tcp => Some(Transport::Tcp),
        rsipstack::sip::Transport::Tls => Some(Transport::Tls),
        _ => None,
    }
}

/// An INVITE Weft sent, kept to cancel it.
struct SentInvite {
    request: Request,
    destination: SipAddr,
    connection: Option<SipConnection>,
}

/// The stack and the transactions in flight.
pub(super) struct Stack {
    endpoint: EndpointInnerRef,
    local: HashMap<Transport, SipAddr>,
    core: UnboundedSender<Input>,
    next_server: u64,
    servers: Arc<Mutex<HashMap<ServerTx, TransactionEventSender>>>,
    invites: Arc<Mutex<HashMap<ClientTx, SentInvite>>>,
    /// The latest TCP/TLS connection of each peer, to reach registered contacts over their flow.
    flows: Arc<Mutex<HashMap<Peer, SipConnection>>>,
}

impl Stack {
    pub fn new(
        endpoint: EndpointInnerRef,
        addrs: &[(Transport, SocketAddr)],
        core: UnboundedSender<Input>,
    ) -> Self {
        let local = addrs
            .iter()
            .map(|(t, a)| {
                (
                    *t,
                    SipAddr {
                        r#type: Some(stack_transport(*t)),
                        addr: (*a).into(),
                    },
                )
            })
            .collect();
        Self {
            endpoint,
            local,
            core,
            next_server: 1,
            servers: Arc::default(),
            invites: Arc::default(),
            flows: Arc::default(),
        }
    }

    /// A new server transaction: named, handed to the core, and pumped until it ends.
    pub fn accept(&mut self, mut tx: Transaction) {
        let Some(conn) = tx.connection.clone() else {
            return;
        };
        let peer = conn
            .get_remote_addr()
            .and_then(|a| a.get_socketaddr().ok())
            .zip(our_transport(conn.transport()))
            .map(|(addr, transport)| Peer { transport, addr });
        let Some(peer) = peer else {
            return;
        };
        if peer.transport != Transport::Udp {
            lock(&self.flows).insert(peer, conn);
        }
        let id = ServerTx(self.next_server);
        self.next_server += 1;
        lock(&self.servers).insert(id, tx.tu_sender.clone());
        let _ = self.core.send(Input::Request {
            tx: id,
            request: tx.original.clone(),
            peer,
        });
        let core = self.core.clone();
        let servers = self.servers.clone();
        tokio::spawn(async move {
            while let Some(message) = tx.receive().await {
                if let SipMessage::Request(request) = message
                    && core.send(Input::TxMessage { tx: id, request }).is_err()
                {
                    break;
                }
            }
            lock(&servers).remove(&id);
            let _ = core.send(Input::TxEnded(id));
        });
    }

    /// Sends a response on a server transaction (through its pump).
    pub fn respond(&self, tx: ServerTx, response: Response) {
        if let Some(sender) = lock(&self.servers).get(&tx) {
            let _ = sender.send(TransactionEvent::Respond(response));
        }
    }

    /// Sends a request as a new client transaction and pumps its responses to the core.
    pub fn send(&self, id: ClientTx, mut request: Request, to: Peer) {
        let Some(local) = self
            .local
            .get(&to.transport)
            .or_else(|| self.local.get(&Transport::Udp))
            .cloned()
        else {
            return;
        };
        let Ok(via) = self.endpoint.get_via(Some(local), None) else {
            return;
        };
        request.headers.push_front(Header::Via(via.into()));
        let destination = SipAddr {
            r#type: Some(stack_transport(to.transport)),
            addr: to.addr.into(),
        };
        let connection = (to.transport != Transport::Udp)
            .then(|| lock(&self.flows).get(&to).cloned())
            .flatten();
        let Ok(key) = TransactionKey::from_request(&request, TransactionRole::Client) else {
            return;
        };
        let is_invite = request.method == Method::Invite;
        if is_invite {
            lock(&self.invites).insert(
                id,
                SentInvite {
                    request: request.clone(),
                    destination: destination.clone(),
                    connection: connection.clone(),
                },
            );
        }
        let mut tx = Transaction::new_client(key, request, self.endpoint.clone(), connection);
        tx.destination = Some(destination);
        let core = self.core.clone();
        let invites = self.invites.clone();
        tokio::spawn(async move {
            if let Err(e) = tx.send().await {
                tracing::info!(error = %e, "sending a SIP request failed");
                let timeout = Response {
                    status_code: rsipstack::sip::StatusCode::RequestTimeout,
                    wire_reason: None,
                    version: rsipstack::sip::Version::V2,
                    headers: tx.original.headers.clone(),
                    body: Vec::new(),
                };
                let _ = core.send(Input::Response {
                    tx: id,
                    response: timeout,
                });
                lock(&invites).remove(&id);
                return;
            }
            while let Some(message) = tx.receive().await {
                let SipMessage::Response(response) = message else {
                    continue;
                };
                let done = response.status_code.code() >= 200;
                if core.send(Input::Response { tx: id, response }).is_err() || done {
                    break;
                }
            }
            lock(&invites).remove(&id);
        });
    }

    /// Cancels an INVITE Weft sent (RFC 3261 §9.1: its own client transaction, same branch).
    pub fn cancel(&self, id: ClientTx) {
        let Some(sent) = lock(&self.invites).remove(&id) else {
            return;
        };
        let mut cancel = sent.request;
        cancel.method = Method::Cancel;
        cancel.body.clear();
        cancel.headers.retain(|h| {
            matches!(
                h,
                Header::Via(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CallId(_)
                    | Header::CSeq(_)
                    | Header::Route(_)
                    | Header::MaxForwards(_)
            )
        });
        if let Ok(cseq) = cancel.cseq_header_mut() {
            let _ = cseq.mut_method(Method::Cancel);
        }
        cancel.headers.push(Header::ContentLength(0u32.into()));
        let Ok(key) = TransactionKey::from_request(&cancel, TransactionRole::Client) else {
            return;
        };
        let mut tx = Transaction::new_client(key, cancel, self.endpoint.clone(), sent.connection);
        tx.destination = Some(sent.destination);
        tokio::spawn(async move {
            if tx.send().await.is_ok() {
                while tx.receive().await.is_some() {}
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
