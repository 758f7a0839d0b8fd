use std::collections::HashMap;

use weft_calls::controller::OpId as CallOp;
use weft_calls::directory::{Target, TargetKind};
use weft_calls::media::{LocalMedia, MediaCall, MediaEvent, MediaFailure, MediaKind, RemoteMedia};
use weft_calls::room::{Control, Target as RoomTarget};
use weft_calls::{Controller, ControllerConfig, Output};

use super::*;
use crate::message::{Event, Invite, ModifyAction};

const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=answer\r\n";
/// An audio-only engine offer.
const AUDIO_OFFER: &str = "v=0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP 111\r\na=ice-ufrag:u\r\n";
/// An engine offer with a transport per m-line and no BUNDLE group (what the SDK can answer).
const OFFER: &str =
    "v=0\r\nm=audio 9 UDP 111\r\na=ice-ufrag:u0\r\nm=video 9 UDP 96\r\na=ice-ufrag:u1\r\n";

fn subscriber(id: &str) -> Identity {
    Identity {
        project_id: "proj".into(),
        subject: Subject::Subscriber {
            subscriber_id: id.into(),
        },
        jti: format!("jti-{id}"),
        expires_at: 1_900_000_000,
        scopes: vec![],
        display_name: id.to_uppercase(),
        application_id: None,
    }
}

fn guest(allowed: &[&str]) -> Identity {
    Identity {
        subject: Subject::Guest {
            guest_id: "guest-1".into(),
            allowed_addresses: allowed.iter().map(|s| s.to_string()).collect(),
        },
        ..subscriber("guest")
    }
}

fn target(kind: TargetKind, id: &str, name: &str) -> Target {
    Target {
        kind,
        resource_id: id.into(),
        address_id: format!("addr-{name}"),
        name: name.into(),
        display_name: name.to_uppercase(),
    }
}

/// Drives the hub and the call controller it fronts, with automatic fake directory and media
/// answers, and records what reaches connections and the media engine.
struct T {
    hub: Hub,
    calls: Controller,
    t0: Instant,
    at: Duration,
    addresses: HashMap<String, Target>,
    tokens: HashMap<String, Identity>,
    media_fails: bool,
    hold_media: bool,
    held: Vec<(CallOp, MediaCall)>,
    to_conn: Vec<(ConnId, Down)>,
    media: Vec<MediaCall>,
    next_req: ReqId,
}

impl T {
    fn new() -> Self {
        let mut addresses = HashMap::new();
        addresses.insert(
            "/public/room".into(),
            target(TargetKind::VideoRoom, "room-1", "room"),
        );
        addresses.insert(
            "/public/alice".into(),
            target(TargetKind::Subscriber, "alice", "alice"),
        );
        addresses.insert(
            "/public/bob".into(),
            target(TargetKind::Subscriber, "bob", "bob"),
        );
        addresses.insert(
            "/public/agent".into(),
            target(TargetKind::AiAgent, "a-1", "agent"),
        );
        let mut tokens = HashMap::new();
        for id in ["alice", "bob", "carol"] {
            tokens.insert(format!("tok-{id}"), subscriber(id));
        }
        tokens.insert("tok-guest".into(), guest(&["addr-room"]));
        Self {
            hub: Hub::new(HubConfig::default()),
            calls: Controller::new(ControllerConfig::default()),
            t0: Instant::now(),
            at: Duration::ZERO,
            addresses,
            tokens,
            media_fails: false,
            hold_media: false,
            held: Vec::new(),
            to_conn: Vec::new(),
            media: Vec::new(),
            next_req: 1,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + self.at
    }

    fn pump(&mut self) {
        loop {
            let now = self.now();
            if let Some(out) = self.hub.poll_output() {
                match out {
                    HubOutput::ToConn(c, d) => self.to_conn.push((c, d)),
                    HubOutput::VerifyToken(op, t) => {
                        let r = self
                            .tokens
                            .get(&t)
                            .cloned()
                            .ok_or(DirectoryError::InvalidToken("unknown token".into()));
                        self.hub.on_token(op, r);
                    }
                    HubOutput::Calls(command) => self.calls.on_command(now, command),
                }
                continue;
            }
            let Some(out) = self.calls.poll_output() else {
                return;
            };
            match out {
                Output::Front(front, event) => {
                    assert_eq!(front, VERTO);
                    self.hub.on_calls(event);
                }
                Output::Resolve { op, address, .. } => {
                    let r = Ok(self.addresses.get(&address.path()).cloned());
                    self.calls.on_resolved(now, op, r);
                }
                Output::Media(op, call) if self.hold_media => self.held.push((op, call)),
                Output::Media(op, call) => {
                    let result = if self.media_fails {
                        Err(MediaFailure("engine down".into()))
                    } else {
                        Ok(match &call {
                            MediaCall::AddMember { .. } => Some(LocalMedia::Sdp(ANSWER.to_owned())),
                            MediaCall::Renegotiate { .. } => {
                                Some(LocalMedia::Sdp(ANSWER.to_owned()))
                            }
                            MediaCall::OfferMember { video: false, .. } => {
                                Some(LocalMedia::Sdp(AUDIO_OFFER.to_owned()))
                            }
                            MediaCall::OfferMember { .. } => {
                                Some(LocalMedia::Sdp(OFFER.to_owned()))
                            }
                            _ => None,
                        })
                    };
                    self.media.push(call);
                    self.calls.on_media(now, op, result);
                }
            }
        }
    }

    /// A leg's room and media member.
    fn leg(&self, id: &str) -> (String, String) {
        let (room, member) = self.calls.leg_room(id).expect("leg");
        (room.unwrap_or_default().to_owned(), member.to_owned())
    }

    fn connect_as(
        &mut self,
        conn: ConnId,
        token: &str,
        resume: Option<(&str, Option<&str>)>,
    ) -> Down {
        self.hub.open(conn);
        self.hub.on_up(
            self.now(),
            conn,
            Up::Connect {
                token: token.into(),
                protocol: resume.map(|r| r.0.to_owned()),
                authorization_state: resume.and_then(|r| r.1.map(str::to_owned)),
            },
        );
        self.pump();
        let pos = self.to_conn.iter().rposition(|(c, _)| *c == conn).unwrap();
        self.to_conn.remove(pos).1
    }

    fn connect(&mut self, conn: ConnId, who: &str) -> Connected {
        match self.connect_as(conn, &format!("tok-{who}"), None) {
            Down::Connected(c) => *c,
            other => panic!("connect failed: {other:?}"),
        }
    }

    fn request(&mut self, conn: ConnId, request: Request) -> ReqId {
        let req = self.next_req;
        self.next_req += 1;
        self.hub
            .on_up(self.now(), conn, Up::Request { req, request });
        self.pump();
        req
    }

    fn online(&mut self, conn: ConnId) {
        self.request(conn, Request::Online);
    }

    fn dial(&mut self, conn: ConnId, call_id: &str, to: &str) -> ReqId {
        self.request(
            conn,
            Request::Invite(Invite {
                call_id: call_id.into(),
                destination: to.into(),
                sdp: "v=0\r\nm=audio 9 UDP 111\r\nm=video 9 UDP 96\r\n".into(),
                attach: false,
                screen_share_of: None,
            }),
        )
    }

    fn bye(&mut self, conn: ConnId, call_id: &str, cause: Option<&str>) {
        self.request(
            conn,
            Request::Bye {
                call_id: call_id.into(),
                cause: cause.map(str::to_owned),
            },
        );
    }

    fn close(&mut self, conn: ConnId) {
        self.hub
            .on_up(self.now(), conn, Up::Closed { unacked: vec![] });
        self.pump();
    }

    fn advance(&mut self, d: Duration) {
        self.at += d;
        let now = self.now();
        self.hub.on_tick(now);
        self.calls.on_tick(now);
        self.pump();
    }

    /// Takes everything delivered to `conn` so far.
    fn take(&mut self, conn: ConnId) -> Vec<Down> {
        let (mine, rest) = std::mem::take(&mut self.to_conn)
            .into_iter()
            .partition(|(c, _)| *c == conn);
        self.to_conn = rest;
        mine.into_iter().map(|(_, d)| d).collect()
    }

    fn events(&mut self, conn: ConnId) -> Vec<(String, Value)> {
        self.take(conn)
            .into_iter()
            .filter_map(|d| match d {
                Down::Event(e) => Some((e.event_type.to_owned(), (*e.params).clone())),
                _ => None,
            })
            .collect()
    }

    fn take_media(&mut self) -> Vec<MediaCall> {
        std::mem::take(&mut self.media)
    }
}

fn types(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(t, p)| match t.as_str() {
            "webrtc.message" => p["method"].as_str().unwrap().to_owned(),
            _ => t.clone(),
        })
        .collect()
}

fn verto_of<'a>(events: &'a [(String, Value)], method: &str) -> &'a Value {
    &events
        .iter()
        .find(|(t, p)| t == "webrtc.message" && p["method"] == method)
        .unwrap_or_else(|| panic!("no {method} in {events:?}"))
        .1["params"]
}

fn replies(downs: &[Down]) -> Vec<(ReqId, Result<Value, RpcError>)> {
    downs
        .iter()
        .filter_map(|d| match d {
            Down::Reply { req, result } => Some((*req, result.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn connect_creates_protocol_with_jti() {
    let mut t = T::new();
    let c = t.connect(1, "alice");
    assert!(c.protocol.starts_with("signalwire_jti-alice_"));
    assert!(c.replay.is_empty());
    assert_eq!(t.hub.session_count(), 1);
}

#[test]
fn bad_token_is_rejected() {
    let mut t = T::new();
    let d = t.connect_as(1, "forged", None);
    assert!(
        matches!(d, Down::ConnectRejected { message } if message.starts_with("Authentication failed"))
    );
}

#[test]
fn resume_keeps_presence_and_replays_queued_events() {
    let mut t = T::new();
    let alice = t.connect(1, "alice");
    t.online(1);
    t.close(1);
    t.connect(2, "bob");
    t.dial(2, "call-b", "/public/alice");
    let resumed = t.connect_as(
        3,
        "tok-alice",
        Some((&alice.protocol, Some(&alice.authorization_state))),
    );
    let Down::Connected(c) = resumed else {
        panic!("{resumed:?}")
    };
    assert_eq!(c.protocol, alice.protocol);
    let invite = c
        .replay
        .iter()
        .find(|e| e.params["method"] == "verto.invite");
    assert!(invite.is_some(), "the invite rung while away is replayed");
}

#[test]
fn unhonourable_resumes_get_requester_validation_failed() {
    let mut t = T::new();
    let alice = t.connect(1, "alice");
    t.close(1);
    let rvf = |d: Down| matches!(d, Down::ConnectRejected { message } if message == REQUESTER_VALIDATION_FAILED);
    assert!(rvf(t.connect_as(
        2,
        "tok-alice",
        Some(("signalwire_x_y", None))
    )));
    assert!(rvf(t.connect_as(
        3,
        "tok-alice",
        Some((&alice.protocol, Some("wrong")))
    )));
    assert!(rvf(t.connect_as(
        4,
        "tok-bob",
        Some((&alice.protocol, None))
    )));
    t.advance(Duration::from_secs(31));
    assert_eq!(t.hub.session_count(), 0, "expired after the grace period");
    assert!(rvf(t.connect_as(
        5,
        "tok-alice",
        Some((&alice.protocol, None))
    )));
}

#[test]
fn resume_on_a_new_socket_closes_the_old_one() {
    let mut t = T::new();
    let alice = t.connect(1, "alice");
    let d = t.connect_as(2, "tok-alice", Some((&alice.protocol, None)));
    assert!(matches!(d, Down::Connected(_)));
    assert!(t.take(1).iter().any(|d| matches!(d, Down::Close { .. })));
    // What the old socket had not got acknowledged reaches the new one.
    let lost = Event::new("member.joined", json!({"n": 1}));
    t.hub.on_up(
        t.now(),
        1,
        Up::Closed {
            unacked: vec![lost.clone()],
        },
    );
    t.pump();
    assert_eq!(t.take(2), vec![Down::Event(lost)]);
    // The old socket may no longer act for the session.
    t.request(1, Request::Online);
    assert!(t.take(1).is_empty(), "closed connections get nothing");
}

#[test]
fn sessions_per_subject_are_limited() {
    let mut t = T::new();
    for conn in 0..10 {
        t.connect(conn, "alice");
    }
    assert!(matches!(
        t.connect_as(99, "tok-alice", None),
        Down::ConnectRejected { .. }
    ));
}

#[test]
fn reauthenticate_accepts_same_subject_only() {
    let mut t = T::new();
    t.connect(1, "alice");
    let ok = t.request(
        1,
        Request::Reauthenticate {
            token: "tok-alice".into(),
        },
    );
    let bad = t.request(
        1,
        Request::Reauthenticate {
            token: "tok-bob".into(),
        },
    );
    let r = replies(&t.take(1));
    assert_eq!(r[0].0, ok);
    assert_eq!(
        r[0].1.as_ref().unwrap()["authorization"]["project_id"],
        "proj"
    );
    assert_eq!(r[1].0, bad);
    assert!(r[1].1.is_err());
}

#[test]
fn room_join_answers_then_call_joined_then_member_events() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    let req = t.dial(1, "a-call", "/public/room?channel=video");
    let downs = t.take(1);
    assert_eq!(
        replies(&downs)[0],
        (
            req,
            Ok(json!({"message": "CALL CREATED", "callID": "a-call"}))
        )
    );
    let ev: Vec<(String, Value)> = downs
        .into_iter()
        .filter_map(|d| match d {
            Down::Event(e) => Some((e.event_type.to_owned(), (*e.params).clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        types(&ev),
        [
            "verto.answer",
            "call.joined",
            "call.state",
            "layout.changed"
        ]
    );
    assert_eq!(verto_of(&ev, "verto.answer")["sdp"], ANSWER);
    let joined = &ev[1].1;
    assert_eq!(joined["call_id"], "a-call");
    assert_eq!(joined["origin_call_id"], "a-call");
    assert_eq!(
        joined["room_session"]["members"].as_array().unwrap().len(),
        1
    );
    assert!(matches!(&t.take_media()[..], [MediaCall::AddMember { .. }]));

    t.dial(2, "b-call", "/public/room?channel=video");
    let bob = t.events(2);
    assert_eq!(
        types(&bob),
        [
            "verto.answer",
            "call.joined",
            "call.state",
            "layout.changed"
        ]
    );
    assert_eq!(
        bob[1].1["room_session"]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        bob[1].1["room_session_id"], joined["room_session_id"],
        "same room session"
    );
    let alice = t.events(1);
    assert_eq!(types(&alice), ["member.joined", "layout.changed"]);
    assert_eq!(alice[0].1["member"]["name"], "BOB");
}

#[test]
fn room_controls_change_state_media_and_announce() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.dial(1, "a-call", "/public/room");
    t.dial(2, "b-call", "/public/room");
    let (room, a_member) = t.leg("a-call");
    t.take(1);
    t.take(2);
    t.take_media();
    let req = t.request(
        2,
        Request::Control {
            call_id: "b-call".into(),
            control: Control::Mute(vec![MediaKind::Audio]),
            target: RoomTarget::Member(a_member.clone()),
        },
    );
    let bob = t.take(2);
    assert_eq!(replies(&bob)[0].0, req);
    assert_eq!(replies(&bob)[0].1.as_ref().unwrap()["code"], "200");
    let alice = t.events(1);
    assert_eq!(types(&alice), ["member.updated"]);
    assert_eq!(alice[0].1["member"]["audio_muted"], true);
    assert_eq!(alice[0].1["member"]["updated"], json!(["audio_muted"]));
    assert_eq!(
        t.take_media(),
        vec![MediaCall::SetMuted {
            room,
            member: a_member,
            kind: MediaKind::Audio,
            muted: true
        }]
    );
    let list = t.request(
        1,
        Request::Control {
            call_id: "a-call".into(),
            control: Control::MemberList,
            target: RoomTarget::All,
        },
    );
    let r = replies(&t.take(1));
    assert_eq!(r[0].0, list);
    assert_eq!(
        r[0].1.as_ref().unwrap()["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    t.request(
        1,
        Request::Control {
            call_id: "nope".into(),
            control: Control::MemberList,
            target: RoomTarget::All,
        },
    );
    assert!(replies(&t.take(1))[0].1.is_err());
}

#[test]
fn guests_reach_only_allowed_addresses_and_cannot_moderate() {
    let mut t = T::new();
    t.connect(1, "guest");
    t.connect(2, "alice");
    t.online(2);
    t.take(2);
    t.dial(1, "g1", "/public/alice");
    let ev = t.events(1);
    assert_eq!(verto_of(&ev, "verto.bye")["cause"], "OUTGOING_CALL_BARRED");
    assert!(t.events(2).is_empty(), "alice was not rung");
    t.dial(1, "g2", "/public/room");
    let ev = t.events(1);
    assert_eq!(
        ev[1].1["capabilities"],
        json!(["self", "digit", "vmuted", "device", "screenshare"])
    );
    t.request(
        1,
        Request::Control {
            call_id: "g2".into(),
            control: Control::Lock,
            target: RoomTarget::All,
        },
    );
    assert!(replies(&t.take(1))[0].1.is_err());
}

#[test]
fn routing_failures_end_with_clear_causes() {
    let mut t = T::new();
    t.connect(1, "bob");
    for (to, cause) in [
        ("/public/nobody", "UNALLOCATED_NUMBER"),
        ("not an address", "INVALID_NUMBER_FORMAT"),
        ("/public/agent", "SERVICE_NOT_IMPLEMENTED"),
        ("/public/alice", "USER_NOT_REGISTERED"),
    ] {
        t.dial(1, to, to);
        let ev = t.events(1);
        assert_eq!(verto_of(&ev, "verto.bye")["cause"], cause, "{to}");
    }
    assert_eq!(t.calls.room_count(), 0);
}

#[test]
fn media_failure_ends_the_join_with_a_bye() {
    let mut t = T::new();
    t.connect(1, "bob");
    t.media_fails = true;
    t.dial(1, "c", "/public/room");
    let ev = t.events(1);
    assert_eq!(
        verto_of(&ev, "verto.bye")["cause"],
        "NORMAL_TEMPORARY_FAILURE"
    );
    assert_eq!(t.calls.room_count(), 0);
}

/// Alice (leg `a`) and Bob (leg `b`) join `/public/room`, what they were sent is taken; returns
/// the room's id and Alice's member id.
fn alice_and_bob_in_a_room(t: &mut T) -> (String, String) {
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.dial(1, "a", "/public/room");
    t.dial(2, "b", "/public/room");
    t.take(1);
    t.take(2);
    t.leg("a")
}

#[test]
fn leaving_announces_member_left_and_last_one_closes_room() {
    let mut t = T::new();
    alice_and_bob_in_a_room(&mut t);
    t.bye(2, "b", None);
    let bob = t.take(2);
    assert_eq!(
        replies(&bob)[0].1.as_ref().unwrap()["cause"],
        "NORMAL_CLEARING"
    );
    let alice = t.events(1);
    assert_eq!(types(&alice), ["member.left", "layout.changed"]);
    t.take_media();
    t.bye(1, "a", None);
    assert_eq!(t.calls.room_count(), 0);
    let media = t.take_media();
    assert!(
        media
            .iter()
            .any(|m| matches!(m, MediaCall::CloseRoom { .. }))
    );
}

#[test]
fn talking_is_announced_to_all_members() {
    let mut t = T::new();
    let (room, member) = alice_and_bob_in_a_room(&mut t);
    t.calls.on_media_event(MediaEvent::Talking {
        room,
        member,
        talking: true,
    });
    t.pump();
    assert_eq!(types(&t.events(1)), ["member.talking"]);
    let bob = t.events(2);
    assert_eq!(bob[0].1["member"]["talking"], true);
}

#[test]
fn a_simulcast_publisher_is_told_which_layers_anyone_receives() {
    let mut t = T::new();
    let (room, member) = alice_and_bob_in_a_room(&mut t);
    t.calls.on_media_event(MediaEvent::LayersWanted {
        room: room.clone(),
        member: member.clone(),
        mid: "1".into(),
        rids: vec!["q".into()],
    });
    t.pump();
    let alice = t.events(1);
    assert_eq!(types(&alice), [weft_calls::LAYERS_EVENT]);
    let params = &alice[0].1;
    assert_eq!(params["call_id"], "a");
    assert_eq!(params["room_id"], room.as_str());
    assert_eq!(params["member_id"], member.as_str());
    assert_eq!(params["mid"], "1");
    assert_eq!(params["rids"], serde_json::json!(["q"]));
    assert!(t.events(2).is_empty(), "only the publisher is told");
}

/// Bob dials Alice, who has two online sessions.
fn ring_alice(t: &mut T) -> (String, String) {
    t.connect(1, "alice");
    t.connect(2, "alice");
    t.connect(3, "bob");
    t.online(1);
    t.online(2);
    t.take(1);
    t.take(2);
    t.dial(3, "bob-call", "/public/alice?channel=video");
    let bob = t.events(3);
    assert_eq!(
        types(&bob),
        ["verto.media"],
        "early media carries the answer SDP"
    );
    assert_eq!(verto_of(&bob, "verto.media")["sdp"], ANSWER);
    let a1 = t.events(1);
    let a2 = t.events(2);
    let inv1 = verto_of(&a1, "verto.invite").clone();
    let inv2 = verto_of(&a2, "verto.invite").clone();
    for inv in [&inv1, &inv2] {
        assert!(
            !inv["sdp"].as_str().unwrap().contains("BUNDLE"),
            "no BUNDLE with two m-lines"
        );
        assert_eq!(inv["display_direction"], "inbound");
        assert_eq!(inv["caller_id_name"], "BOB");
        assert_eq!(inv["callee_id_number"], "/public/alice");
    }
    (
        inv1["callID"].as_str().unwrap().to_owned(),
        inv2["callID"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn first_answer_wins_and_both_sides_join() {
    let mut t = T::new();
    let (in1, in2) = ring_alice(&mut t);
    t.request(
        1,
        Request::Answer {
            call_id: in1.clone(),
            sdp: "answer-from-alice".into(),
        },
    );
    let a1 = t.events(1);
    assert_eq!(types(&a1), ["verto.answer", "call.joined", "call.state"]);
    assert_eq!(a1[1].1["call_id"], in1.as_str());
    assert_eq!(
        a1[1].1["room_session"]["members"].as_array().unwrap().len(),
        2
    );
    let a2 = t.events(2);
    assert_eq!(verto_of(&a2, "verto.bye")["cause"], "LOSE_RACE");
    let bob = t.events(3);
    assert_eq!(types(&bob), ["verto.answer", "call.joined", "call.state"]);
    assert!(verto_of(&bob, "verto.answer").get("sdp").is_none());
    assert_eq!(bob[1].1["call_id"], "bob-call");
    assert!(t.take_media().iter().any(
        |m| matches!(m, MediaCall::AcceptAnswer { answer: RemoteMedia::WebRtc(a), .. } if a == "answer-from-alice")
    ));
    // A late answer from the other session only gets a bye.
    t.request(
        2,
        Request::Answer {
            call_id: in2,
            sdp: "late".into(),
        },
    );
    assert!(types(&t.events(2)).contains(&"verto.bye".to_owned()));
    // Bob hangs up: Alice's call ends.
    t.bye(3, "bob-call", None);
    let a1 = t.events(1);
    assert_eq!(verto_of(&a1, "verto.bye")["cause"], "NORMAL_CLEARING");
    assert_eq!(t.calls.room_count(), 0);
}

#[test]
fn callee_hangup_ends_callers_call() {
    let mut t = T::new();
    let (in1, _) = ring_alice(&mut t);
    t.request(
        1,
        Request::Answer {
            call_id: in1.clone(),
            sdp: "a".into(),
        },
    );
    t.take(3);
    t.bye(1, &in1, None);
    assert_eq!(
        verto_of(&t.events(3), "verto.bye")["cause"],
        "NORMAL_CLEARING"
    );
}

#[test]
fn reject_ends_callers_call_with_busy() {
    let mut t = T::new();
    let (in1, _) = ring_alice(&mut t);
    t.bye(1, &in1, Some("USER_BUSY"));
    let bob = t.events(3);
    assert_eq!(verto_of(&bob, "verto.bye")["cause"], "USER_BUSY");
    assert_eq!(verto_of(&bob, "verto.bye")["causeCode"], 17);
    assert_eq!(
        verto_of(&t.events(2), "verto.bye")["cause"],
        "ORIGINATOR_CANCEL"
    );
    assert_eq!(t.calls.room_count(), 0);
}

#[test]
fn reject_by_the_only_session_ends_with_busy() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.online(1);
    t.connect(3, "bob");
    t.dial(3, "bob-call", "/public/alice");
    let invite = verto_of(&t.events(1), "verto.invite").clone();
    t.bye(1, invite["callID"].as_str().unwrap(), Some("USER_BUSY"));
    assert_eq!(verto_of(&t.events(3), "verto.bye")["cause"], "USER_BUSY");
    assert!(
        t.events(1).is_empty(),
        "the rejecting session gets no bye of its own"
    );
}

#[test]
fn unanswered_ring_times_out_with_no_answer() {
    let mut t = T::new();
    ring_alice(&mut t);
    t.advance(Duration::from_secs(31));
    assert_eq!(verto_of(&t.events(3), "verto.bye")["cause"], "NO_ANSWER");
    assert_eq!(verto_of(&t.events(1), "verto.bye")["cause"], "NO_ANSWER");
}

#[test]
fn caller_cancel_stops_ringing() {
    let mut t = T::new();
    ring_alice(&mut t);
    t.bye(3, "bob-call", None);
    assert_eq!(
        verto_of(&t.events(1), "verto.bye")["cause"],
        "ORIGINATOR_CANCEL"
    );
    assert_eq!(
        verto_of(&t.events(2), "verto.bye")["cause"],
        "ORIGINATOR_CANCEL"
    );
}

#[test]
fn offline_subscriber_is_not_rung() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.online(1);
    t.request(1, Request::Offline);
    t.connect(3, "bob");
    t.dial(3, "c", "/public/alice");
    assert_eq!(
        verto_of(&t.events(3), "verto.bye")["cause"],
        "USER_NOT_REGISTERED"
    );
}

#[test]
fn reattach_rebinds_media_and_rejoins() {
    let mut t = T::new();
    let alice = t.connect(1, "alice");
    t.dial(1, "a", "/public/room");
    t.take(1);
    t.close(1);
    t.advance(Duration::from_secs(5));
    t.connect_as(2, "tok-alice", Some((&alice.protocol, None)));
    t.take_media();
    t.request(
        2,
        Request::Invite(Invite {
            call_id: "a".into(),
            destination: "/public/room".into(),
            sdp: "new-offer".into(),
            attach: true,
            screen_share_of: None,
        }),
    );
    let ev = t.events(2);
    assert_eq!(types(&ev), ["verto.answer", "call.joined", "call.state"]);
    let media = t.take_media();
    assert!(
        matches!(&media[0], MediaCall::RemoveMember { .. }),
        "{media:?}"
    );
    assert!(
        matches!(&media[1], MediaCall::AddMember { media: RemoteMedia::WebRtc(o), .. } if o == "new-offer")
    );
    t.advance(Duration::from_secs(60));
    assert_eq!(
        t.calls.room_count(),
        1,
        "the reattached call is still alive"
    );
}

#[test]
fn lost_session_ends_its_calls_after_the_grace_period() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.dial(1, "a", "/public/room");
    t.dial(2, "b", "/public/room");
    t.take(2);
    t.close(1);
    t.advance(Duration::from_secs(29));
    assert!(t.events(2).is_empty());
    t.advance(Duration::from_secs(2));
    let bob = t.events(2);
    assert_eq!(types(&bob), ["member.left", "layout.changed"]);
    assert_eq!(bob[0].1["reason"], "recovery_on_timer_expire");
}

#[test]
fn hold_and_update_media() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.dial(1, "a", "/public/room");
    t.take(1);
    t.take_media();
    t.request(
        1,
        Request::Modify {
            call_id: "a".into(),
            action: ModifyAction::Hold,
        },
    );
    let r = replies(&t.take(1));
    assert_eq!(r[0].1.as_ref().unwrap()["holdState"], "held");
    assert_eq!(t.take_media().len(), 3);
    t.request(
        1,
        Request::Modify {
            call_id: "a".into(),
            action: ModifyAction::UpdateMedia("offer-2".into()),
        },
    );
    let r = replies(&t.take(1));
    assert_eq!(r[0].1.as_ref().unwrap()["sdp"], ANSWER);
    assert_eq!(r[0].1.as_ref().unwrap()["action"], "updateMedia");
}

#[test]
fn shutdown_reaches_every_connection() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.hub.shutdown();
    t.pump();
    assert!(matches!(&t.take(1)[..], [Down::Shutdown]));
    assert!(matches!(&t.take(2)[..], [Down::Shutdown]));
}

#[test]
fn requests_before_connect_are_refused() {
    let mut t = T::new();
    t.hub.open(7);
    t.request(7, Request::Online);
    assert!(replies(&t.take(7))[0].1.is_err());
}

#[test]
fn screen_share_joins_the_parents_room_as_a_child_member() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.dial(1, "main", "/public/room");
    t.dial(2, "b", "/public/room");
    t.take(1);
    t.take(2);
    let (_, parent) = t.leg("main");
    t.request(
        1,
        Request::Invite(Invite {
            call_id: "share".into(),
            destination: "/public/room".into(),
            sdp: "v=0".into(),
            attach: false,
            screen_share_of: Some(parent.clone()),
        }),
    );
    let alice = t.events(1);
    let joined = alice.iter().find(|(ty, _)| ty == "member.joined").unwrap();
    assert_eq!(
        joined.1["member"]["parent_id"],
        parent.as_str(),
        "the main call sees its share"
    );
    assert!(
        alice
            .iter()
            .any(|(ty, p)| ty == "call.joined" && p["call_id"] == "share")
    );
    let bob = t.events(2);
    assert!(
        bob.iter()
            .any(|(ty, p)| ty == "member.joined" && p["member"]["parent_id"] == parent.as_str())
    );
}

#[test]
fn calls_per_session_are_limited() {
    let mut t = T::new();
    t.connect(1, "alice");
    for i in 0..8 {
        t.dial(1, &format!("c{i}"), "/public/room");
    }
    t.take(1);
    let req = t.dial(1, "one-too-many", "/public/room");
    let r = replies(&t.take(1));
    assert_eq!(r[0].0, req);
    assert!(r[0].1.is_err());
}

#[test]
fn a_failed_join_does_not_close_the_room_under_another_joiner() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.hold_media = true;
    t.dial(1, "a", "/public/room");
    t.dial(2, "b", "/public/room");
    let held = std::mem::take(&mut t.held);
    assert_eq!(held.len(), 2);
    let now = t.now();
    t.calls
        .on_media(now, held[0].0, Err(MediaFailure("boom".into())));
    t.pump();
    assert_eq!(
        verto_of(&t.events(1), "verto.bye")["cause"],
        "NORMAL_TEMPORARY_FAILURE"
    );
    assert_eq!(t.calls.room_count(), 1, "bob is still joining");
    t.calls
        .on_media(now, held[1].0, Ok(Some(LocalMedia::Sdp(ANSWER.into()))));
    t.pump();
    let bob = t.events(2);
    assert!(types(&bob).contains(&"call.joined".to_owned()));
    let removed = t
        .held
        .iter()
        .filter(|(_, c)| matches!(c, MediaCall::RemoveMember { .. }))
        .count();
    assert_eq!(
        removed, 1,
        "the failed member is removed from the engine once"
    );
}

#[test]
fn snapshot_counts_calls_by_state_and_room_joins_are_timed() {
    let mut t = T::new();
    t.connect(1, "alice");
    t.connect(2, "bob");
    t.hold_media = true;
    t.dial(1, "a", "/public/room");
    let snapshot = t.hub.snapshot();
    assert_eq!(snapshot.sessions_connected, 2);
    assert_eq!(snapshot.sessions_detached, 0);
    assert_eq!(t.calls.snapshot().calls, [0, 1, 0, 0, 0], "joining");
    t.advance(Duration::from_millis(250));
    let (op, _) = t.held.remove(0);
    let now = t.now();
    t.calls
        .on_media(now, op, Ok(Some(LocalMedia::Sdp(ANSWER.into()))));
    t.pump();
    assert_eq!(t.calls.snapshot().calls, [0, 0, 0, 0, 1], "active");
    let times: Vec<Duration> = t.calls.take_join_times().collect();
    assert_eq!(times, [Duration::from_millis(250)]);
    assert_eq!(t.calls.take_join_times().count(), 0);
    t.close(2);
    assert_eq!(t.hub.snapshot().sessions_detached, 1);
}
