//! The core driven by SIP text the way phones and trunks send it, with an in-memory account
//! store and the controller's events fed by hand.

use std::net::SocketAddr;
use std::time::Duration;

use md5::{Digest, Md5};
use rsipstack::sip::prelude::HeadersExt;
use weft_calls::media::{LocalMedia, RemoteMedia, RtpCodec};
use weft_calls::{Cause, Command, FrontEvent, Ring};

use super::*;
use crate::account::{EncryptionSetting, MediaPolicy};
use crate::digest::Ha1Set;

const DOMAIN: &str = "weft.test";
const PHONE: &str = "127.0.0.1:5080";
const TRUNK: &str = "10.9.0.1:5060";
const ENGINE: &str = "127.0.0.1:40000";

fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
    }
}

fn account(username: &str, password: &str, encryption: EncryptionSetting) -> Account {
    Account {
        id: format!("ep-{username}"),
        username: username.into(),
        project_id: "proj".into(),
        resource_id: format!("res-{username}"),
        subscriber_id: None,
        display_name: username.to_uppercase(),
        ha1: Ha1Set::compute(username, DOMAIN, password),
        media: MediaPolicy {
            codecs: vec![],
            encryption,
        },
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// An `Authorization` value answering an MD5 challenge.
fn authorize(challenge: &str, user: &str, password: &str, method: &str, uri: &str) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let ha1 = md5_hex(&format!("{user}:{DOMAIN}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\""
    )
}

const OFFER: &str = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
    t=0 0\r\nm=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

const SRTP_OFFER: &str = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
    t=0 0\r\nm=audio 30000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0\r\n\
    a=sendrecv\r\n";

struct T {
    core: SipCore,
    now: Now,
    accounts: Vec<Account>,
    actions: Vec<Action>,
    next_tx: u64,
    store_fails: bool,
}

impl T {
    fn new() -> Self {
        let cfg = CoreConfig {
            domain: DOMAIN.into(),
            trunks: vec![Trunk {
                name: "carrier".into(),
                cidrs: vec!["10.9.0.0/16".parse().unwrap()],
                project_id: "proj".into(),
                media: MediaPolicy::default(),
                max_calls: 2,
            }],
            max_calls_per_account: 2,
            secret: [7; 32],
            ..CoreConfig::default()
        };
        Self {
            core: SipCore::new(cfg),
            now: Now {
                mono: std::time::Instant::now(),
                unix: 1_800_000_000,
            },
            accounts: vec![
                account("alice", "secret", EncryptionSetting::Default),
                account("vault", "secret", EncryptionSetting::Required),
            ],
            actions: Vec::new(),
            next_tx: 1,
            store_fails: false,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.unix += d.as_secs();
        let now = self.now;
        self.core.on_tick(now);
        self.pump();
    }

    /// Runs the core's store and account work at once; keeps the rest.
    fn pump(&mut self) {
        while let Some(a) = self.core.poll_action() {
            match a {
                Action::Accounts { op, username } => {
                    let found = self
                        .accounts
                        .iter()
                        .filter(|a| a.username == username)
                        .cloned()
                        .collect();
                    let now = self.now;
                    self.core.on_accounts(now, op, Ok(found));
                }
                Action::Store { op, changes } => {
                    let result = if self.store_fails {
                        Err("disk full".into())
                    } else {
                        Ok(())
                    };
                    self.actions.push(Action::Store {
                        op,
                        changes: changes.clone(),
                    });
                    let now = self.now;
                    self.core.on_stored(now, op, result);
                }
                other => self.actions.push(other),
            }
        }
    }

    fn send(&mut self, text: &str, from: &str) -> ServerTx {
        let tx = ServerTx(self.next_tx);
        self.next_tx += 1;
        let req = Request::try_from(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let now = self.now;
        self.core.on_request(now, tx, req, peer(from));
        self.pump();
        tx
    }

    /// The responses sent on `tx` so far, taken.
    fn responses(&mut self, tx: ServerTx) -> Vec<Response> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::Respond { tx: t, response } if *t == tx => {
                out.push(response.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn final_response(&mut self, tx: ServerTx) -> Response {
        self.responses(tx)
            .into_iter()
            .rfind(|r| r.status_code.code() >= 200)
            .expect("a final response")
    }

    fn commands(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::Calls(c) => {
                out.push(c.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn sent(&mut self) -> Vec<(ClientTx, Request, Peer)> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::Send { tx, request, to } => {
                out.push((*tx, request.clone(), *to));
                false
            }
            _ => true,
        });
        out
    }

    fn calls(&mut self, event: FrontEvent) {
        let now = self.now;
        self.core.on_calls(now, event);
        self.pump();
    }

    /// Registers alice's phone at [`PHONE`]; returns the 200.
    fn register_alice(&mut self, expires: u32) -> Response {
        let tx = self.send(&register(1, expires, None), PHONE);
        let challenge = self.final_response(tx);
        let value = challenge
            .headers
            .iter()
            .find(|h| h.name() == "WWW-Authenticate" && h.value().contains("MD5"))
            .unwrap()
            .value()
            .to_owned();
        let auth = authorize(
            &value,
            "alice",
            "secret",
            "REGISTER",
            &format!("sip:{DOMAIN}"),
        );
        let tx = self.send(&register(2, expires, Some(&auth)), PHONE);
        self.final_response(tx)
    }

    /// `user`'s phone calls `to` with `sdp`; returns the INVITE's transaction, its first response
    /// (100, or the refusal) and the commands it caused.
    fn call_in(&mut self, to: &str, sdp: &str, user: &str) -> (ServerTx, Response, Vec<Command>) {
        let tx = self.send(&invite(to, sdp, None, "c1"), PHONE);
        let challenge = self.final_response(tx);
        assert_eq!(challenge.status_code.code(), 407);
        let value = challenge
            .headers
            .iter()
            .find(|h| h.name() == "Proxy-Authenticate" && h.value().contains("MD5"))
            .unwrap()
            .value()
            .to_owned();
        let uri = format!("sip:{to}@{DOMAIN}");
        let auth = authorize(&value, user, "secret", "INVITE", &uri);
        let tx = self.send(&invite(to, sdp, Some(&auth), "c2"), PHONE);
        let trying = self.responses(tx);
        (tx, trying.into_iter().next().expect("100"), self.commands())
    }
}

fn register(cseq: u32, expires: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKr{cseq}\r\n\
         From: <sip:alice@{DOMAIN}>;tag=reg1\r\n\
         To: <sip:alice@{DOMAIN}>\r\n\
         Call-ID: reg-call\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice-0x1@{PHONE};transport=udp>\r\n\
         Expires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

fn invite(to: &str, sdp: &str, auth: Option<&str>, branch: &str) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
    format!(
        "INVITE sip:{to}@{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch}\r\n\
         From: \"Alice Desk\" <sip:alice@{DOMAIN}>;tag=caller\r\n\
         To: <sip:{to}@{DOMAIN}>\r\n\
         Call-ID: call-in-1\r\n\
         CSeq: {} INVITE\r\n\
         Contact: <sip:alice@{PHONE}>\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, UPDATE, INFO\r\n\
         {auth}Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        if auth.is_empty() { 1 } else { 2 },
        sdp.len()
    )
}

/// A request within the dialog whose tag Weft chose (`to_tag`).
fn in_dialog(method: &str, cseq: u32, to_tag: &str, content: Option<(&str, &str)>) -> String {
    let (ctype, body) = content.map_or((String::new(), ""), |(t, b)| {
        (format!("Content-Type: {t}\r\n"), b)
    });
    format!(
        "{method} sip:weft@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKd{cseq}{method}\r\n\
         From: \"Alice Desk\" <sip:alice@{DOMAIN}>;tag=caller\r\n\
         To: <sip:room@{DOMAIN}>;tag={to_tag}\r\n\
         Call-ID: call-in-1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@{PHONE}>\r\n\
         {ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn dial_of(commands: &[Command]) -> &weft_calls::Dial {
    commands
        .iter()
        .find_map(|c| match c {
            Command::Dial(d) => Some(&**d),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no dial in {commands:?}"))
}

fn to_tag(resp: &Response) -> String {
    resp.to_header()
        .unwrap()
        .tag()
        .unwrap()
        .unwrap()
        .to_string()
}

fn body(resp: &Response) -> String {
    String::from_utf8(resp.body.clone()).unwrap()
}

fn engine() -> SocketAddr {
    ENGINE.parse().unwrap()
}

#[test]
fn a_phone_registers_with_digest_and_becomes_reachable() {
    let mut t = T::new();
    let tx = t.send(&register(1, 600, None), PHONE);
    let challenge = t.final_response(tx);
    assert_eq!(challenge.status_code.code(), 401);
    let algorithms: Vec<_> = challenge
        .headers
        .iter()
        .filter(|h| h.name() == "WWW-Authenticate")
        .map(|h| h.value().to_owned())
        .collect();
    assert_eq!(algorithms.len(), 1, "MD5 only unless configured");
    assert!(algorithms[0].contains("algorithm=MD5"));
    let ok = t.register_alice(600);
    assert_eq!(ok.status_code.code(), 200);
    let contact = ok.contact_header().unwrap().value().to_owned();
    assert_eq!(
        contact,
        "<sip:alice-0x1@127.0.0.1:5080;transport=udp>;expires=600"
    );
    let stored = t.actions.iter().any(|a| matches!(a, Action::Store { changes, .. }
        if matches!(&changes[..], [StoreChange::Save(b)] if b.contact == "sip:alice-0x1@127.0.0.1:5080;transport=udp" && b.peer == peer(PHONE))));
    assert!(stored, "the binding is stored before the 200");
    let presence = t.commands();
    assert!(
        matches!(&presence[..], [Command::Presence(p)] if p.online && p.resource_id == "res-alice" && p.endpoint.front == SIP)
    );
    assert_eq!(t.core.snapshot().registrations, 1);
    // A refresh keeps the binding (no new presence); unregistering removes it.
    t.register_alice(600);
    assert!(t.commands().is_empty());
    let gone = t.register_alice(0);
    assert_eq!(gone.status_code.code(), 200);
    assert!(gone.contact_header().is_err());
    assert!(matches!(&t.commands()[..], [Command::Presence(p)] if !p.online));
    assert_eq!(t.core.snapshot().registrations, 0);
}

#[test]
fn sha256_credentials_register_when_the_operator_offers_sha256() {
    use sha2::{Digest as _, Sha256};
    let sha = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
    let mut t = T::new();
    t.core = SipCore::new(CoreConfig {
        domain: DOMAIN.into(),
        digest_algorithms: vec![
            crate::digest::Algorithm::Sha256,
            crate::digest::Algorithm::Md5,
        ],
        secret: [7; 32],
        ..CoreConfig::default()
    });
    let tx = t.send(&register(1, 600, None), PHONE);
    let challenge = t.final_response(tx);
    let values: Vec<_> = challenge
        .headers
        .iter()
        .filter(|h| h.name() == "WWW-Authenticate")
        .map(|h| h.value().to_owned())
        .collect();
    assert!(values[0].contains("algorithm=SHA-256") && values[1].contains("algorithm=MD5"));
    let nonce = values[0]
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let uri = format!("sip:{DOMAIN}");
    let ha1 = sha(&format!("alice:{DOMAIN}:secret"));
    let ha2 = sha(&format!("REGISTER:{uri}"));
    let response = sha(&format!("{ha1}:{nonce}:0000000a:c0ffee:auth:{ha2}"));
    let auth = format!(
        "Digest username=\"alice\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=SHA-256, qop=auth, nc=0000000a, cnonce=\"c0ffee\""
    );
    let tx = t.send(&register(2, 600, Some(&auth)), PHONE);
    assert_eq!(t.final_response(tx).status_code.code(), 200);
}

#[test]
fn wrong_passwords_are_refused_and_leave_no_binding_and_repeat_offenders_are_blocked() {
    let mut t = T::new();
    for attempt in 0..5u32 {
        let tx = t.send(&register(1, 600, None), PHONE);
        let challenge = t.final_response(tx);
        let value = challenge
            .headers
            .iter()
            .find(|h| h.value().contains("MD5"))
            .unwrap()
            .value()
            .to_owned();
        let auth = authorize(
            &value,
            "alice",
            "wrong",
            "REGISTER",
            &format!("sip:{DOMAIN}"),
        );
        let tx = t.send(&register(2 + attempt, 600, Some(&auth)), PHONE);
        assert_eq!(t.final_response(tx).status_code.code(), 403);
    }
    assert_eq!(t.core.snapshot().registrations, 0);
    assert!(!t.actions.iter().any(|a| matches!(a, Action::Store { .. })));
    assert!(
        t.actions
            .iter()
            .any(|a| matches!(a, Action::Block { ip, .. } if ip.to_string() == "127.0.0.1"))
    );
    // Blocked: even the right password gets no answer now.
    let tx = t.send(&register(9, 600, None), PHONE);
    assert!(t.responses(tx).is_empty());
}

#[test]
fn registrations_are_bounded_and_a_failed_store_is_not_acknowledged() {
    let mut t = T::new();
    let short = t.register_alice(10);
    assert_eq!(short.status_code.code(), 423);
    assert_eq!(short.header_value("Min-Expires").as_deref(), Some("60"));
    let long = t.register_alice(999_999);
    assert!(
        long.contact_header()
            .unwrap()
            .value()
            .ends_with(";expires=3600")
    );
    t.store_fails = true;
    let failed = t.register_alice(0);
    assert_eq!(failed.status_code.code(), 500);
    assert_eq!(t.core.snapshot().registrations, 1, "nothing changed");
}

#[test]
fn bindings_expire_and_are_restored_after_a_restart() {
    let mut t = T::new();
    t.register_alice(60);
    t.commands();
    let binding = t
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Store { changes, .. } => changes.iter().find_map(|c| match c {
                StoreChange::Save(b) => Some((**b).clone()),
                _ => None,
            }),
            _ => None,
        })
        .unwrap();
    // A new process loads it: reachable again.
    let mut restarted = T::new();
    let now = restarted.now;
    restarted.core.restore(now, vec![binding.clone()]);
    restarted.pump();
    assert!(matches!(&restarted.commands()[..], [Command::Presence(p)] if p.online));
    assert_eq!(restarted.core.snapshot().registrations, 1);
    t.advance(Duration::from_secs(61));
    assert!(matches!(&t.commands()[..], [Command::Presence(p)] if !p.online));
    assert!(
        t.actions
            .iter()
            .any(|a| matches!(a, Action::Store { changes, .. }
        if changes == &vec![StoreChange::Delete(binding.id.clone())]))
    );
}

#[test]
fn bindings_of_endpoints_deleted_from_the_store_go_away() {
    let mut t = T::new();
    t.register_alice(600);
    t.commands();
    t.core.retain_bindings(&std::collections::HashSet::new());
    t.pump();
    assert!(matches!(&t.commands()[..], [Command::Presence(p)] if !p.online));
    assert_eq!(t.core.snapshot().registrations, 0);
}

#[test]
fn a_call_into_a_room_is_dialled_answered_and_hung_up() {
    let mut t = T::new();
    let (tx, trying, commands) = t.call_in("room", OFFER, "alice");
    assert_eq!(trying.status_code.code(), 100);
    assert!(
        t.responses(tx).is_empty(),
        "nothing more before the controller answers"
    );
    let dial = dial_of(&commands);
    assert_eq!(dial.to.path(), "/public/room");
    assert_eq!(dial.caller.name, "Alice Desk");
    assert_eq!(dial.caller.number, "alice");
    assert_eq!(dial.caller.project_id, "proj");
    let RemoteMedia::Rtp(params) = &dial.media else {
        panic!("{:?}", dial.media)
    };
    assert_eq!(params.codec, RtpCodec::Pcmu);
    assert_eq!(params.payload_type, 0);
    assert_eq!(params.telephone_event, Some(101));
    assert_eq!(params.remote, Some("127.0.0.1:30000".parse().unwrap()));
    let leg = dial.leg.clone();
    t.calls(FrontEvent::Answered {
        leg: leg.clone(),
        media: Some(LocalMedia::Rtp(engine())),
    });
    let ok = t.final_response(tx);
    assert_eq!(ok.status_code.code(), 200);
    let sdp = body(&ok);
    assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
    assert!(sdp.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{sdp}");
    assert!(ok.contact_header().unwrap().value().contains("sip:weft@"));
    let tag = to_tag(&ok);
    assert_eq!(t.core.snapshot().calls, [0, 1]);
    let ack = Request::try_from(in_dialog("ACK", 2, &tag, None).as_str()).unwrap();
    let now = t.now;
    t.core.on_tx_message(now, tx, ack);
    t.pump();
    let bye = t.send(&in_dialog("BYE", 3, &tag, None), PHONE);
    assert_eq!(t.final_response(bye).status_code.code(), 200);
    assert!(matches!(
        &t.commands()[..],
        [Command::Hangup {
            cause: Cause::NormalClearing,
            ..
        }]
    ));
    assert_eq!(t.core.snapshot().calls, [0, 0]);
    let unknown = t.send(&in_dialog("BYE", 4, &tag, None), PHONE);
    assert_eq!(t.final_response(unknown).status_code.code(), 481);
}

#[test]
fn refused_calls_get_the_status_of_their_cause() {
    for (cause, status) in [
        (Cause::UnallocatedNumber, 404),
        (Cause::ServiceNotImplemented, 501),
        (Cause::UserBusy, 486),
        (Cause::UserNotRegistered, 480),
        (Cause::NoAnswer, 480),
    ] {
        let mut t = T::new();
        let (tx, _, commands) = t.call_in("someone", OFFER, "alice");
        let leg = dial_of(&commands).leg.clone();
        t.calls(FrontEvent::Ended {
            leg,
            cause,
            was_active: false,
        });
        let resp = t.final_response(tx);
        assert_eq!(resp.status_code.code(), status, "{cause:?}");
        assert!(resp.header_value("Reason").unwrap().contains(cause.name()));
        assert_eq!(t.core.snapshot().calls, [0, 0]);
    }
}

#[test]
fn a_cancelled_call_gets_487_and_ends_the_leg() {
    let mut t = T::new();
    let (tx, _, commands) = t.call_in("alice2", OFFER, "alice");
    let leg = dial_of(&commands).leg.clone();
    t.calls(FrontEvent::EarlyMedia {
        leg: leg.clone(),
        media: LocalMedia::Rtp(engine()),
    });
    assert_eq!(t.responses(tx)[0].status_code.code(), 180);
    let cancel = Request::try_from(
        format!(
            "CANCEL sip:alice2@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKc2\r\n\
             From: <sip:alice@{DOMAIN}>;tag=caller\r\nTo: <sip:alice2@{DOMAIN}>\r\n\
             Call-ID: call-in-1\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n"
        )
        .as_str(),
    )
    .unwrap();
    let now = t.now;
    t.core.on_tx_message(now, tx, cancel);
    t.pump();
    assert_eq!(t.final_response(tx).status_code.code(), 487);
    assert!(
        matches!(&t.commands()[..], [Command::Hangup { cause: Cause::OriginatorCancel, leg: l }] if *l == leg)
    );
    // The controller's own end of the leg finds nothing left to answer.
    t.calls(FrontEvent::Ended {
        leg,
        cause: Cause::OriginatorCancel,
        was_active: false,
    });
    assert!(t.responses(tx).is_empty());
}

#[test]
fn media_policy_is_enforced_and_srtp_offers_get_our_own_key() {
    let mut t = T::new();
    // vault requires SRTP: a plain offer is refused.
    let (_, refused, commands) = t.call_in("room", OFFER, "vault");
    assert!(commands.is_empty());
    assert_eq!(refused.status_code.code(), 488);
    let (tx, _, commands) = t.call_in("room", SRTP_OFFER, "vault");
    let dial = dial_of(&commands);
    let RemoteMedia::Rtp(params) = &dial.media else {
        panic!()
    };
    let keys = params.srtp.as_ref().expect("srtp keys");
    assert_eq!(keys.suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(
        keys.remote,
        "inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0"
    );
    assert!(keys.local.starts_with("inline:") && keys.local != keys.remote);
    let leg = dial.leg.clone();
    t.calls(FrontEvent::Answered {
        leg,
        media: Some(LocalMedia::Rtp(engine())),
    });
    let sdp = body(&t.final_response(tx));
    assert!(sdp.contains("RTP/SAVP"), "{sdp}");
    assert!(
        sdp.contains(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 {}",
            keys.local
        )),
        "{sdp}"
    );
    // A key the SRTP layer could not use (33 bytes) is refused while negotiating: 488, not a
    // failure of the media later.
    let bad = SRTP_OFFER.replace(
        "inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0",
        "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAo",
    );
    let (_, refused, none) = t.call_in("room", &bad, "vault");
    assert!(none.is_empty());
    assert_eq!(refused.status_code.code(), 488);
}

#[test]
fn hold_and_key_presses_within_the_dialog_reach_the_controller() {
    let mut t = T::new();
    let (tx, _, commands) = t.call_in("room", OFFER, "alice");
    let leg = dial_of(&commands).leg.clone();
    t.calls(FrontEvent::Answered {
        leg: leg.clone(),
        media: Some(LocalMedia::Rtp(engine())),
    });
    let tag = to_tag(&t.final_response(tx));
    let hold_sdp = OFFER.replace("a=sendrecv", "a=sendonly");
    let re = t.send(
        &in_dialog("INVITE", 3, &tag, Some(("application/sdp", &hold_sdp))),
        PHONE,
    );
    let ok = t.final_response(re);
    assert_eq!(ok.status_code.code(), 200);
    assert!(body(&ok).contains("a=recvonly"));
    assert!(matches!(
        &t.commands()[..],
        [Command::Hold { held: true, .. }]
    ));
    let re = t.send(
        &in_dialog("INVITE", 4, &tag, Some(("application/sdp", OFFER))),
        PHONE,
    );
    assert!(body(&t.final_response(re)).contains("a=sendrecv"));
    assert!(matches!(
        &t.commands()[..],
        [Command::Hold { held: false, .. }]
    ));
    let info = t.send(
        &in_dialog(
            "INFO",
            5,
            &tag,
            Some(("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")),
        ),
        PHONE,
    );
    assert_eq!(t.final_response(info).status_code.code(), 200);
    assert!(matches!(&t.commands()[..], [Command::Dtmf { digits, .. }] if digits == "5"));
    // An old CSeq is out of order.
    let stale = t.send(&in_dialog("INFO", 2, &tag, None), PHONE);
    assert_eq!(t.final_response(stale).status_code.code(), 500);
    // A new codec is new media for the controller.
    let pcma = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 8 101");
    let re = t.send(
        &in_dialog("INVITE", 6, &tag, Some(("application/sdp", &pcma))),
        PHONE,
    );
    assert_eq!(t.final_response(re).status_code.code(), 200);
    assert!(
        matches!(&t.commands()[..], [Command::UpdateMedia { media: RemoteMedia::Rtp(p), .. }] if p.codec == RtpCodec::Pcma)
    );
}

#[test]
fn a_registered_phone_is_rung_and_its_answer_connects_the_call() {
    let mut t = T::new();
    t.register_alice(600);
    let binding = match &t.commands()[..] {
        [Command::Presence(p)] => p.endpoint.key.clone(),
        other => panic!("{other:?}"),
    };
    t.calls(FrontEvent::Ring(Box::new(Ring {
        leg: "browser-callee".into(),
        project_id: "proj".into(),
        endpoint: binding,
        media: LocalMedia::Rtp(engine()),
        caller: ("Bob".into(), "/private/bob-1".into()),
        callee: ("ALICE".into(), "/public/alice".into()),
        video: false,
    })));
    let sent = t.sent();
    let (tx, invite, to) = &sent[0];
    assert_eq!(*to, peer(PHONE));
    assert_eq!(
        invite.uri.to_string().to_ascii_lowercase(),
        "sip:alice-0x1@127.0.0.1:5080;transport=udp"
    );
    assert!(
        invite
            .from_header()
            .unwrap()
            .value()
            .contains("\"Bob\" <sip:bob-1@weft.test>")
    );
    let offer = String::from_utf8(invite.body.clone()).unwrap();
    assert!(
        offer.contains("m=audio 40000 RTP/AVP 96 0 8 101"),
        "{offer}"
    );
    let answer = "v=0\r\no=phone 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                  m=audio 31000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                  a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
         From: {}\r\nTo: <sip:alice@{DOMAIN}>;tag=phone\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{PHONE}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{answer}",
        invite.from_header().unwrap().value(),
        invite.call_id_header().unwrap().value(),
        answer.len()
    );
    let now = t.now;
    t.core
        .on_response(now, *tx, Response::try_from(ok.as_str()).unwrap());
    t.pump();
    let commands = t.commands();
    let Some(Command::Answer {
        leg,
        media: RemoteMedia::Rtp(p),
    }) = commands.first()
    else {
        panic!("{commands:?}")
    };
    assert_eq!(leg, "browser-callee");
    assert_eq!(
        (p.codec, p.remote),
        (RtpCodec::Pcmu, Some("127.0.0.1:31000".parse().unwrap()))
    );
    // The browser hangs up: the phone gets a BYE in the dialog.
    t.calls(FrontEvent::Ended {
        leg: leg.clone(),
        cause: Cause::NormalClearing,
        was_active: true,
    });
    let sent = t.sent();
    let (_, bye, _) = &sent[0];
    assert_eq!(bye.method, rsipstack::sip::Method::Bye);
    assert_eq!(bye.uri.to_string(), format!("sip:alice@{PHONE}"));
    assert!(bye.to_header().unwrap().value().ends_with(";tag=phone"));
    assert_eq!(bye.cseq_header().unwrap().seq().unwrap(), 2);
}

#[test]
fn a_busy_phone_and_a_caller_who_gives_up_end_the_outbound_attempt() {
    let mut t = T::new();
    t.register_alice(600);
    let binding = match &t.commands()[..] {
        [Command::Presence(p)] => p.endpoint.key.clone(),
        other => panic!("{other:?}"),
    };
    let ring = |leg: &str| {
        FrontEvent::Ring(Box::new(Ring {
            leg: leg.into(),
            project_id: "proj".into(),
            endpoint: binding.clone(),
            media: LocalMedia::Rtp(engine()),
            caller: ("Bob".into(), "bob".into()),
            callee: ("ALICE".into(), "/public/alice".into()),
            video: false,
        }))
    };
    t.calls(ring("one"));
    let (tx, invite, _) = t.sent().remove(0);
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
         From: {}\r\nTo: <sip:alice@{DOMAIN}>;tag=phone\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n",
        invite.from_header().unwrap().value(),
        invite.call_id_header().unwrap().value()
    );
    let now = t.now;
    t.core
        .on_response(now, tx, Response::try_from(busy.as_str()).unwrap());
    t.pump();
    assert!(matches!(
        &t.commands()[..],
        [Command::Hangup {
            cause: Cause::UserBusy,
            ..
        }]
    ));
    t.calls(ring("two"));
    let (tx, _, _) = t.sent().remove(0);
    t.calls(FrontEvent::Ended {
        leg: "two".into(),
        cause: Cause::OriginatorCancel,
        was_active: false,
    });
    assert!(
        t.actions
            .iter()
            .any(|a| matches!(a, Action::Cancel { tx: c } if *c == tx))
    );
}

#[test]
fn trunks_call_without_credentials_within_their_call_limit() {
    let mut t = T::new();
    for (n, expected) in [(1, true), (2, true), (3, false)] {
        let text = invite("room", OFFER, None, &format!("t{n}"))
            .replace("Call-ID: call-in-1", &format!("Call-ID: trunk-{n}"));
        let tx = t.send(&text, TRUNK);
        let dialled = t
            .commands()
            .iter()
            .any(|c| matches!(c, Command::Dial(d) if d.caller.subject_id == "trunk:carrier"));
        assert_eq!(dialled, expected, "call {n}");
        if !expected {
            assert_eq!(t.final_response(tx).status_code.code(), 503);
        }
    }
}

#[test]
fn session_timers_are_honoured_and_a_silent_peer_is_hung_up() {
    let mut t = T::new();
    let short = invite("room", OFFER, None, "s1").replace(
        "Content-Type",
        "Session-Expires: 30\r\nSupported: timer\r\nContent-Type",
    );
    let tx = t.send(&short, TRUNK);
    let resp = t.final_response(tx);
    assert_eq!(resp.status_code.code(), 422);
    assert_eq!(resp.header_value("Min-SE").as_deref(), Some("90"));
    let ok = invite("room", OFFER, None, "s2").replace(
        "Content-Type",
        "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\nContent-Type",
    );
    let tx = t.send(&ok, TRUNK);
    let leg = dial_of(&t.commands()).leg.clone();
    t.calls(FrontEvent::Answered {
        leg,
        media: Some(LocalMedia::Rtp(engine())),
    });
    let answered = t.final_response(tx);
    assert_eq!(
        answered.header_value("Session-Expires").as_deref(),
        Some("120;refresher=uac")
    );
    t.advance(Duration::from_secs(60));
    assert!(t.commands().is_empty(), "still within the interval");
    t.advance(Duration::from_secs(30));
    assert!(matches!(
        &t.commands()[..],
        [Command::Hangup {
            cause: Cause::RecoveryOnTimerExpire,
            ..
        }]
    ));
}

#[test]
fn malformed_and_unanswered_messages_get_clear_statuses() {
    let mut t = T::new();
    let truncated = invite("room", OFFER, None, "m1").replace(
        &format!("Content-Length: {}", OFFER.len()),
        "Content-Length: 9999",
    );
    let tx = t.send(&truncated, TRUNK);
    assert_eq!(t.final_response(tx).status_code.code(), 400);
    let no_sdp = invite("room", "", None, "m2");
    let tx = t.send(&no_sdp, TRUNK);
    assert_eq!(t.final_response(tx).status_code.code(), 488);
    let no_user = invite("room", OFFER, None, "m3").replace(
        &format!("INVITE sip:room@{DOMAIN}"),
        &format!("INVITE sip:{DOMAIN}"),
    );
    let tx = t.send(&no_user, TRUNK);
    assert_eq!(t.final_response(tx).status_code.code(), 404);
    let options = t.send(
        &format!(
            "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKo\r\n\
             From: <sip:x@{DOMAIN}>;tag=o\r\nTo: <sip:{DOMAIN}>\r\nCall-ID: o1\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ),
        PHONE,
    );
    let resp = t.final_response(options);
    assert_eq!(resp.status_code.code(), 200);
    assert!(resp.header_value("Allow").unwrap().contains("INVITE"));
}

#[test]
fn an_answer_without_an_ack_ends_the_call() {
    let mut t = T::new();
    let tx = t.send(&invite("room", OFFER, None, "a1"), TRUNK);
    let leg = dial_of(&t.commands()).leg.clone();
    t.calls(FrontEvent::Answered {
        leg,
        media: Some(LocalMedia::Rtp(engine())),
    });
    t.final_response(tx);
    t.core.on_tx_ended(tx);
    t.pump();
    assert!(matches!(&t.commands()[..], [Command::Hangup { .. }]));
    assert!(
        t.sent()
            .iter()
            .any(|(_, r, _)| r.method == rsipstack::sip::Method::Bye)
    );
    assert_eq!(t.core.snapshot().calls, [0, 0]);
}
