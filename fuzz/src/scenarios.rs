//! What each fuzz target does with its input, kept here so that tests can replay the seeds
//! through exactly the same steps and check how deep they reach.

use std::sync::LazyLock;

use rsipstack::sip::{Method, Request, Response, SipMessage};
use weft_sip::account::EncryptionSetting;

use crate::fixtures::{PHONE, TRUNK, socket};
use crate::harness::Harness;
use crate::network::{receive, signed};

/// The `To` tag that addresses the trunk's answered call (replaced by the tag the core chose).
pub const DIALOG_TAG: &[u8] = b"fixturedialog000";

/// Seconds the core is left alone after the message: longer than a registration and than the
/// session interval a call usually gets, shorter than the largest.
const LATER: u64 = 3700;

/// The trunk's call that in-dialog requests address (Call-ID `fixture-call`, From tag
/// `fixture-from`).
static TRUNK_INVITE: LazyLock<Request> = LazyLock::new(|| {
    let sdp = "v=0\r\no=carrier 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
               m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
               a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";
    let text = format!(
        "INVITE sip:room@weft.localhost SIP/2.0\r\n\
         Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bKfixture\r\n\
         From: <sip:carrier@{TRUNK}>;tag=fixture-from\r\n\
         To: <sip:room@weft.localhost>\r\n\
         Call-ID: fixture-call\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@{TRUNK}>\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, UPDATE, INFO\r\n\
         Session-Expires: 1800;refresher=uac\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    Request::try_from(text.as_str()).expect("the fixture INVITE parses")
});

/// The cores a SIP message reached (none when rsipstack dropped it).
#[derive(Default)]
pub struct Reached {
    /// A request: the core without trunks, the request from the phone.
    pub phone: Option<Harness>,
    /// A request: the core with the trunk, the request inside or beside the trunk's call.
    pub trunk: Option<Harness>,
    /// A response: the core that rang the phone.
    pub calls_out: Option<Harness>,
}

/// `sip_message`: arbitrary bytes as a SIP datagram.
///
/// - A request arrives at a core without trunks from a phone, as sent and again with its
///   credentials signed (registrations and authenticated calls go through), and at a core
///   whose trusted trunk sends it inside an answered call from the trunk (a `To` tag of
///   [`DIALOG_TAG`] addresses that dialog).
/// - A response answers the INVITEs, then the session refreshes and BYEs, of calls Weft places
///   to a registered phone (plain RTP and SRTP offers).
///
/// Calls that result are connected, acknowledged (from the trunk) or left without their ACK
/// (from the phone), left to their session timers and ended.
pub fn sip_message(data: &[u8]) -> Reached {
    match receive(data, socket(PHONE)) {
        Some(SipMessage::Request(req)) => {
            let method = req.method;
            Reached {
                phone: Some(from_phone(req)),
                trunk: from_trunk(data, method),
                calls_out: None,
            }
        }
        Some(SipMessage::Response(resp)) => Reached {
            calls_out: Some(to_calls_out(resp)),
            ..Reached::default()
        },
        None => Reached::default(),
    }
}

/// The request from a phone, as sent and signed.
fn from_phone(req: Request) -> Harness {
    let mut h = Harness::new(false);
    h.request(req.clone(), PHONE);
    if let Some(signed) = signed(&req) {
        h.request(signed, PHONE);
    }
    follow_through(&mut h, None);
    h
}

/// The request from the trunk, while the trunk's call rings (CANCEL) or once it is answered
/// (ACK of it, or any other request as a new transaction).
fn from_trunk(data: &[u8], method: Method) -> Option<Harness> {
    let mut h = Harness::new(true);
    let invite = h.request(TRUNK_INVITE.clone(), TRUNK);
    if method == Method::Cancel {
        let Some(SipMessage::Request(req)) = receive(data, socket(TRUNK)) else {
            return None;
        };
        h.tx_message(invite, req.clone());
        follow_through(&mut h, Some(&req));
        return Some(h);
    }
    h.connect_calls();
    let tag = h.to_tag(invite)?;
    let data = replace(data, DIALOG_TAG, tag.as_bytes());
    let Some(SipMessage::Request(req)) = receive(&data, socket(TRUNK)) else {
        return None;
    };
    if method == Method::Ack {
        h.tx_message(invite, req.clone());
    } else {
        h.acknowledge(&TRUNK_INVITE);
        h.request(req.clone(), TRUNK);
    }
    follow_through(&mut h, Some(&req));
    Some(h)
}

/// The response to every request Weft sends a phone it rings: the INVITEs (plain and SRTP
/// offers), then the session refreshes it sends as refresher, then the BYEs.
fn to_calls_out(resp: Response) -> Harness {
    let mut h = Harness::new(false);
    for tx in h.ring_phones(&[EncryptionSetting::Default, EncryptionSetting::Optional]) {
        h.response(tx, resp.clone());
    }
    let before = h.sent.len();
    h.advance(LATER);
    answer_sent(&mut h, before, &resp);
    let before = h.sent.len();
    h.end_calls();
    answer_sent(&mut h, before, &resp);
    h
}

/// Answers with `resp` every request the core sent from index `from` on.
fn answer_sent(h: &mut Harness, from: usize, resp: &Response) {
    let txs: Vec<_> = h.sent[from..].iter().map(|(tx, _)| *tx).collect();
    for tx in txs {
        h.response(tx, resp.clone());
    }
}

/// What follows a request: its calls connected and acknowledged with `ack` (or their
/// transactions ended without one), time passing, and the calls ended.
fn follow_through(h: &mut Harness, ack: Option<&Request>) {
    h.connect_calls();
    match ack {
        Some(ack) => h.acknowledge(ack),
        None => h.end_transactions(),
    }
    h.advance(LATER);
    h.end_calls();
}

/// `data` with every occurrence of `from` replaced by `to`.
fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use weft_calls::Command;
    use weft_calls::media::RemoteMedia;

    use super::*;

    /// The seed `name` of the `sip_message` target, through the target's steps.
    fn seed(name: &str) -> Reached {
        let path = format!("{}/seeds/sip_message/{name}", env!("CARGO_MANIFEST_DIR"));
        sip_message(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    fn statuses(h: &Harness) -> Vec<u16> {
        h.responses
            .iter()
            .map(|(_, r)| r.status_code.code())
            .collect()
    }

    fn sent(h: &Harness) -> Vec<String> {
        h.sent.iter().map(|(_, r)| r.method.to_string()).collect()
    }

    fn dials(h: &Harness) -> usize {
        h.commands
            .iter()
            .filter(|c| matches!(c, Command::Dial(_)))
            .count()
    }

    #[test]
    fn registrations_get_past_digest_authentication() {
        let phone = seed("register.sip").phone.unwrap();
        assert_eq!(statuses(&phone), [401]);
        // As sent (its response is right), then signed again with the same CSeq.
        let phone = seed("register_auth.sip").phone.unwrap();
        assert_eq!(statuses(&phone), [200, 500]);
        assert!(
            phone
                .commands
                .iter()
                .any(|c| matches!(c, Command::Presence(_)))
        );
        let phone = seed("register_sha256_stale.sip").phone.unwrap();
        assert_eq!(statuses(&phone), [401, 401]);
        let stale = phone.responses[1].1.to_string();
        assert!(stale.contains("stale=true"), "{stale}");
    }

    #[test]
    fn invites_are_challenged_signed_and_taken_from_the_trunk() {
        let reached = seed("invite_sdp.sip");
        assert_eq!(statuses(&reached.phone.unwrap()), [407]);
        let trunk = reached.trunk.unwrap();
        assert_eq!(dials(&trunk), 2, "the trunk's call and this one");
        assert_eq!(sent(&trunk), ["BYE", "BYE"]);
        let phone = seed("invite_auth_srtp.sip").phone.unwrap();
        assert_eq!(
            dials(&phone),
            2,
            "as sent (its response is right) and signed"
        );
        let answer = phone
            .responses
            .iter()
            .find(|(_, r)| r.status_code.code() == 200)
            .map(|(_, r)| String::from_utf8_lossy(&r.body).into_owned())
            .unwrap();
        assert!(
            answer.contains("RTP/SAVP") && answer.contains("a=crypto:1"),
            "{answer}"
        );
    }

    #[test]
    fn in_dialog_requests_reach_the_trunks_call() {
        let trunk = seed("bye_in_dialog.sip").trunk.unwrap();
        assert_eq!(statuses(&trunk), [100, 180, 200, 200]);
        assert!(
            trunk
                .commands
                .iter()
                .any(|c| matches!(c, Command::Hangup { .. }))
        );
        let trunk = seed("info_dtmf.sip").trunk.unwrap();
        assert!(
            trunk
                .commands
                .iter()
                .any(|c| matches!(c, Command::Dtmf { digits, .. } if digits == "5"))
        );
        let trunk = seed("reinvite_hold.sip").trunk.unwrap();
        assert!(
            trunk
                .commands
                .iter()
                .any(|c| matches!(c, Command::Hold { held: true, .. }))
        );
        let trunk = seed("cancel.sip").trunk.unwrap();
        assert_eq!(statuses(&trunk), [100, 487]);
    }

    #[test]
    fn responses_answer_refresh_and_end_calls_out() {
        let calls = seed("ok_invite_sdp.sip").calls_out.unwrap();
        let answered = calls
            .commands
            .iter()
            .filter(|c| matches!(c, Command::Answer { .. }))
            .count();
        assert_eq!(answered, 2);
        assert_eq!(
            sent(&calls),
            ["INVITE", "INVITE", "UPDATE", "UPDATE", "BYE", "BYE"]
        );
        let calls = seed("ok_invite_srtp.sip").calls_out.unwrap();
        let srtp = calls.commands.iter().any(|c| {
            matches!(c, Command::Answer { leg, media: RemoteMedia::Rtp(p) }
                if leg == "out-1" && p.srtp.is_some())
        });
        assert!(srtp, "the SRTP offer is answered with SRTP");
        let calls = seed("ringing.sip").calls_out.unwrap();
        assert_eq!(calls.cancelled.len(), 2);
    }

    #[test]
    fn garbage_reaches_no_core() {
        let reached =
            sip_message(b"INVITE sip:room@weft.localhost SIP/2.0\r\nVia: nonsense\r\n\r\n");
        assert!(reached.phone.is_none() && reached.trunk.is_none() && reached.calls_out.is_none());
    }
}
