//! The controller with two fake front-ends, `web` (WebRTC legs) and `sip` (plain-RTP legs), an
//! in-memory directory and a media engine that answers at once. The Verto front-end's own tests
//! (in `weft-signaling`) drive the controller through the hub as well.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;
use crate::directory::TargetKind;
use crate::media::{Flavor, MediaFailure, MediaKind, RtpCodec, RtpParams};

const WEB: FrontId = FrontId("web");
const SIP: FrontId = FrontId("sip");
const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

fn leg_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn rtp(codec: RtpCodec, pt: u8) -> RemoteMedia {
    RemoteMedia::Rtp(RtpParams {
        codec,
        payload_type: pt,
        telephone_event: Some(101),
        remote: Some("127.0.0.1:5004".parse().unwrap()),
        srtp: None,
    })
}

fn party(id: &str) -> Party {
    Party {
        project_id: "proj".into(),
        subject_id: id.into(),
        subscriber_id: Some(id.into()),
        name: id.to_uppercase(),
        number: format!("/private/{id}"),
        access: Access::Any,
        moderator: false,
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

struct T {
    c: Controller,
    t0: Instant,
    at: Duration,
    addresses: HashMap<String, Target>,
    events: Vec<(FrontId, FrontEvent)>,
    media: Vec<MediaCall>,
    media_fails: bool,
}

impl T {
    fn new() -> Self {
        let mut addresses = HashMap::new();
        for (path, t) in [
            (
                "/public/room",
                target(TargetKind::VideoRoom, "room-1", "room"),
            ),
            (
                "/public/alice",
                target(TargetKind::Subscriber, "alice", "alice"),
            ),
            (
                "/public/desk",
                target(TargetKind::SipEndpoint, "ep-desk", "desk"),
            ),
            ("/public/ivr", target(TargetKind::SwmlScript, "s-1", "ivr")),
            ("/public/bot", target(TargetKind::AiAgent, "a-1", "bot")),
        ] {
            addresses.insert(path.to_owned(), t);
        }
        Self {
            c: Controller::new(ControllerConfig::default()),
            t0: Instant::now(),
            at: Duration::ZERO,
            addresses,
            events: Vec::new(),
            media: Vec::new(),
            media_fails: false,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + self.at
    }

    fn pump(&mut self) {
        while let Some(out) = self.c.poll_output() {
            let now = self.now();
            match out {
                Output::Front(front, event) => self.events.push((front, event)),
                Output::Resolve { op, address, .. } => {
                    let r = Ok(self.addresses.get(&address.path()).cloned());
                    self.c.on_resolved(now, op, r);
                }
                Output::Media(op, call) => {
                    let result = if self.media_fails {
                        Err(MediaFailure("engine down".into()))
                    } else {
                        Ok(match &call {
                            MediaCall::AddMember {
                                media: RemoteMedia::Rtp(_),
                                ..
                            }
                            | MediaCall::OfferMember {
                                flavor: Flavor::Rtp,
                                ..
                            } => Some(LocalMedia::Rtp(leg_addr())),
                            MediaCall::AddMember { .. } | MediaCall::OfferMember { .. } => {
                                Some(LocalMedia::Sdp(ANSWER.into()))
                            }
                            _ => None,
                        })
                    };
                    self.media.push(call);
                    self.c.on_media(now, op, result);
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = self.now();
        self.c.on_command(now, command);
        self.pump();
    }

    fn dial(&mut self, front: FrontId, leg: &str, who: &str, to: &str, media: RemoteMedia) {
        self.command(Command::Dial(Box::new(Dial {
            leg: leg.into(),
            front,
            origin: None,
            caller: party(who),
            to: Address::parse(to).unwrap(),
            media,
            video: false,
            attach: false,
            share_of: None,
        })));
    }

    fn online(&mut self, front: FrontId, key: &str, resource: &str, flavor: Flavor, online: bool) {
        self.command(Command::Presence(Box::new(Presence {
            endpoint: EndpointId {
                front,
                key: key.into(),
            },
            resource_id: resource.into(),
            party: party(resource),
            flavor,
            online,
        })));
    }

    /// Takes every event delivered to `front` for `leg`.
    fn take(&mut self, front: FrontId, leg: &str) -> Vec<FrontEvent> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|(f, e)| *f == front && e.leg() == leg);
        self.events = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }

    /// The rings delivered to `front`, taken.
    fn rings(&mut self, front: FrontId) -> Vec<Ring> {
        let (rings, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|(f, e)| *f == front && matches!(e, FrontEvent::Ring(_)));
        self.events = rest;
        rings
            .into_iter()
            .filter_map(|(_, e)| match e {
                FrontEvent::Ring(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// A browser leg `leg` of `who` in `/public/room`, its events taken.
    fn browser_in_room(&mut self, leg: &str, who: &str) {
        let offer = RemoteMedia::WebRtc("offer".into());
        self.dial(WEB, leg, who, "/public/room", offer);
        self.take(WEB, leg);
    }

    fn hang_up(&mut self, leg: &str, cause: Cause) {
        self.command(Command::Hangup {
            leg: leg.into(),
            cause,
        });
    }

    fn take_media(&mut self) -> Vec<MediaCall> {
        std::mem::take(&mut self.media)
    }
}

fn ended_cause(events: &[FrontEvent]) -> Option<Cause> {
    events.iter().find_map(|e| match e {
        FrontEvent::Ended { cause, .. } => Some(*cause),
        _ => None,
    })
}

fn event_types(events: &[FrontEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            FrontEvent::Event { event_type, .. } => Some(*event_type),
            _ => None,
        })
        .collect()
}

fn event_params<'a>(events: &'a [FrontEvent], ty: &str) -> &'a Value {
    events
        .iter()
        .find_map(|e| match e {
            FrontEvent::Event {
                event_type, params, ..
            } if *event_type == ty => Some(&**params),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {ty} in {events:?}"))
}

#[test]
fn a_sip_leg_joins_a_room_as_an_audio_member_the_others_see() {
    let mut t = T::new();
    t.browser_in_room("w", "alice");
    t.dial(SIP, "s", "desk", "/public/room", rtp(RtpCodec::Pcmu, 0));
    let sip = t.take(SIP, "s");
    assert!(
        matches!(&sip[0], FrontEvent::Answered { media: Some(LocalMedia::Rtp(a)), .. } if *a == leg_addr()),
        "{sip:?}"
    );
    assert!(matches!(
        t.take_media().iter().find(|m| matches!(m, MediaCall::AddMember { media: RemoteMedia::Rtp(_), .. })),
        Some(MediaCall::AddMember { media: RemoteMedia::Rtp(p), .. }) if p.codec == RtpCodec::Pcmu
    ));
    let web = t.take(WEB, "w");
    assert_eq!(event_types(&web), ["member.joined", "layout.changed"]);
    assert_eq!(
        event_params(&web, "member.joined")["member"]["name"],
        "DESK"
    );
    // The phone hangs up: the browser sees it leave.
    t.hang_up("s", Cause::NormalClearing);
    assert!(
        t.take(SIP, "s")
            .iter()
            .all(|e| !matches!(e, FrontEvent::Ended { .. }))
    );
    let web = t.take(WEB, "w");
    assert_eq!(event_types(&web), ["member.left", "layout.changed"]);
    assert_eq!(event_params(&web, "member.left")["reason"], "hangup");
}

#[test]
fn a_subscriber_call_rings_browser_sessions_and_sip_contacts_and_a_sip_answer_wins() {
    let mut t = T::new();
    t.online(WEB, "session-1", "alice", Flavor::WebRtc, true);
    t.online(SIP, "contact-1", "alice", Flavor::Rtp, true);
    t.dial(
        WEB,
        "bob",
        "bob",
        "/public/alice",
        RemoteMedia::WebRtc("offer".into()),
    );
    let bob = t.take(WEB, "bob");
    assert!(matches!(
        &bob[0],
        FrontEvent::EarlyMedia {
            media: LocalMedia::Sdp(_),
            ..
        }
    ));
    let web_rings = t.rings(WEB);
    let sip_rings = t.rings(SIP);
    assert_eq!((web_rings.len(), sip_rings.len()), (1, 1));
    assert_eq!(web_rings[0].endpoint, "session-1");
    assert!(matches!(web_rings[0].media, LocalMedia::Sdp(_)));
    assert_eq!(sip_rings[0].endpoint, "contact-1");
    assert_eq!(sip_rings[0].media, LocalMedia::Rtp(leg_addr()));
    assert_eq!(sip_rings[0].caller, ("BOB".into(), "/private/bob".into()));
    assert_eq!(
        sip_rings[0].callee,
        ("ALICE".into(), "/public/alice".into())
    );
    t.take_media();
    let phone = sip_rings[0].leg.clone();
    t.command(Command::Answer {
        leg: phone.clone(),
        media: rtp(RtpCodec::Pcma, 8),
    });
    assert_eq!(
        ended_cause(&t.take(WEB, &web_rings[0].leg)),
        Some(Cause::LoseRace)
    );
    assert!(t.take_media().iter().any(|m| matches!(
        m,
        MediaCall::AcceptAnswer { answer: RemoteMedia::Rtp(p), .. } if p.codec == RtpCodec::Pcma
    )));
    let phone_events = t.take(SIP, &phone);
    assert!(matches!(
        phone_events[0],
        FrontEvent::Answered { media: None, .. }
    ));
    let bob = t.take(WEB, "bob");
    assert!(matches!(bob[0], FrontEvent::Answered { media: None, .. }));
    assert_eq!(event_types(&bob), ["call.joined"]);
    // The browser hangs up: the phone's leg is ended.
    t.hang_up("bob", Cause::NormalClearing);
    let phone_events = t.take(SIP, &phone);
    assert_eq!(ended_cause(&phone_events), Some(Cause::NormalClearing));
    assert!(phone_events.iter().any(|e| matches!(
        e,
        FrontEvent::Ended {
            was_active: true,
            ..
        }
    )));
    assert_eq!(t.c.room_count(), 0);
    assert_eq!(t.c.leg_count(), 0);
}

#[test]
fn a_failed_contact_leaves_the_others_ringing_and_a_decline_ends_the_call() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.online(SIP, "c2", "ep-desk", Flavor::Rtp, true);
    t.dial(
        WEB,
        "bob",
        "bob",
        "/public/desk",
        RemoteMedia::WebRtc("offer".into()),
    );
    let rings = t.rings(SIP);
    assert_eq!(rings.len(), 2);
    t.take(WEB, "bob");
    // One contact is unreachable (480): the other still rings.
    t.hang_up(&rings[0].leg, Cause::NoAnswer);
    assert_eq!(ended_cause(&t.take(WEB, "bob")), None);
    assert_eq!(t.c.room_count(), 1);
    // The other declines (486): the caller gets USER_BUSY.
    t.hang_up(&rings[1].leg, Cause::UserBusy);
    assert_eq!(ended_cause(&t.take(WEB, "bob")), Some(Cause::UserBusy));
    assert_eq!(t.c.room_count(), 0);
    assert_eq!(t.c.leg_count(), 0);
}

#[test]
fn when_every_contact_fails_the_caller_gets_the_last_failure() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.dial(
        WEB,
        "bob",
        "bob",
        "/public/desk",
        RemoteMedia::WebRtc("offer".into()),
    );
    let rings = t.rings(SIP);
    t.hang_up(&rings[0].leg, Cause::UnallocatedNumber);
    assert_eq!(
        ended_cause(&t.take(WEB, "bob")),
        Some(Cause::UnallocatedNumber)
    );
    assert_eq!(t.c.leg_count(), 0);
}

#[test]
fn unregistered_endpoints_and_unimplemented_targets_end_with_clear_causes() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, false);
    for (to, cause) in [
        ("/public/desk", Cause::UserNotRegistered),
        ("/public/bot", Cause::ServiceNotImplemented),
        ("/public/nobody", Cause::UnallocatedNumber),
    ] {
        t.dial(SIP, to, "desk", to, rtp(RtpCodec::Pcmu, 0));
        assert_eq!(ended_cause(&t.take(SIP, to)), Some(cause), "{to}");
    }
    assert_eq!(t.c.leg_count(), 0);
}

#[test]
fn the_caller_never_rings_itself() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.command(Command::Dial(Box::new(Dial {
        leg: "s".into(),
        front: SIP,
        origin: Some(EndpointId {
            front: SIP,
            key: "c1".into(),
        }),
        caller: party("ep-desk"),
        to: Address::parse("/public/desk").unwrap(),
        media: rtp(RtpCodec::Pcmu, 0),
        video: false,
        attach: false,
        share_of: None,
    })));
    assert_eq!(
        ended_cause(&t.take(SIP, "s")),
        Some(Cause::UserNotRegistered)
    );
}

#[test]
fn key_presses_reach_the_other_members_as_rfc4733_or_events() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.dial(
        WEB,
        "bob",
        "bob",
        "/public/desk",
        RemoteMedia::WebRtc("offer".into()),
    );
    let phone = t.rings(SIP).remove(0).leg;
    t.command(Command::Answer {
        leg: phone.clone(),
        media: rtp(RtpCodec::Pcmu, 0),
    });
    t.take(WEB, "bob");
    t.take(SIP, &phone);
    t.take_media();
    t.command(Command::Dtmf {
        leg: "bob".into(),
        digits: "1#".into(),
    });
    let (_, phone_member) = t.c.leg_room(&phone).unwrap();
    let phone_member = phone_member.to_owned();
    assert!(t.take_media().iter().any(|m| matches!(
        m,
        MediaCall::SendDtmf { member, digits, .. } if *member == phone_member && digits == "1#"
    )));
    let (room, _) = t.c.leg_room(&phone).unwrap();
    let room = room.unwrap().to_owned();
    t.c.on_media_event(MediaEvent::Dtmf {
        room,
        member: phone_member.clone(),
        digit: '5',
        duration_ms: 120,
    });
    t.pump();
    let bob = t.take(WEB, "bob");
    let dtmf = event_params(&bob, crate::DTMF_EVENT);
    assert_eq!(dtmf["digits"], "5");
    assert_eq!(dtmf["call_id"], phone.as_str());
    assert_eq!(dtmf["duration_ms"], 120);
    assert!(
        t.take(SIP, &phone).is_empty(),
        "the presser hears nothing back"
    );
}

#[test]
fn hold_pauses_media_and_shows_in_the_room() {
    let mut t = T::new();
    t.dial(
        WEB,
        "w",
        "alice",
        "/public/room",
        RemoteMedia::WebRtc("offer".into()),
    );
    t.dial(SIP, "s", "desk", "/public/room", rtp(RtpCodec::Pcmu, 0));
    t.take(WEB, "w");
    t.take_media();
    t.command(Command::Hold {
        leg: "s".into(),
        held: true,
        req: None,
    });
    let web = t.take(WEB, "w");
    let updated = event_params(&web, "member.updated");
    assert_eq!(updated["member"]["held"], true);
    assert_eq!(updated["member"]["updated"], serde_json::json!(["held"]));
    let media = t.take_media();
    assert!(media.contains(&MediaCall::SetDeaf {
        room: t.c.leg_room("s").unwrap().0.unwrap().to_owned(),
        member: t.c.leg_room("s").unwrap().1.to_owned(),
        deaf: true,
    }));
    assert!(media.iter().any(|m| matches!(
        m,
        MediaCall::SetMuted {
            kind: MediaKind::Audio,
            muted: true,
            ..
        }
    )));
    t.command(Command::Hold {
        leg: "s".into(),
        held: false,
        req: Some(7),
    });
    let sip = t.take(SIP, "s");
    assert!(sip.iter().any(|e| matches!(
        e,
        FrontEvent::Reply {
            req: 7,
            result: Ok(Reply::Held(false)),
            ..
        }
    )));
    assert!(
        t.take_media()
            .iter()
            .any(|m| matches!(m, MediaCall::SetDeaf { deaf: false, .. }))
    );
}

#[test]
fn a_sip_renegotiation_reconfigures_the_leg() {
    let mut t = T::new();
    t.dial(SIP, "s", "desk", "/public/room", rtp(RtpCodec::Pcmu, 0));
    t.take_media();
    t.command(Command::UpdateMedia {
        leg: "s".into(),
        media: rtp(RtpCodec::Pcma, 8),
        req: Some(3),
    });
    assert!(t.take_media().iter().any(|m| matches!(
        m,
        MediaCall::Renegotiate { offer: RemoteMedia::Rtp(p), .. } if p.codec == RtpCodec::Pcma
    )));
    assert!(t.take(SIP, "s").iter().any(|e| matches!(
        e,
        FrontEvent::Reply {
            req: 3,
            result: Ok(Reply::Media(None)),
            ..
        }
    )));
}

#[test]
fn media_failure_of_a_join_ends_the_leg() {
    let mut t = T::new();
    t.media_fails = true;
    t.dial(SIP, "s", "desk", "/public/room", rtp(RtpCodec::Pcmu, 0));
    assert_eq!(
        ended_cause(&t.take(SIP, "s")),
        Some(Cause::NormalTemporaryFailure)
    );
    assert_eq!(t.c.room_count(), 0);
}

#[test]
fn an_unanswered_ring_times_out() {
    let mut t = T::new();
    t.online(SIP, "c1", "ep-desk", Flavor::Rtp, true);
    t.dial(
        WEB,
        "bob",
        "bob",
        "/public/desk",
        RemoteMedia::WebRtc("offer".into()),
    );
    let phone = t.rings(SIP).remove(0).leg;
    t.at += Duration::from_secs(31);
    let now = t.now();
    t.c.on_tick(now);
    t.pump();
    assert_eq!(ended_cause(&t.take(WEB, "bob")), Some(Cause::NoAnswer));
    assert_eq!(ended_cause(&t.take(SIP, &phone)), Some(Cause::NoAnswer));
    assert_eq!(t.c.snapshot().calls, [0; 5]);
}

/// A caller dials `/public/ivr` and the script front answers with its source member.
fn answered_script(t: &mut T, caller: &str, media: RemoteMedia) -> Ring {
    t.dial(SIP, caller, "desk", "/public/ivr", media);
    let rings = t.rings(SCRIPTS);
    assert_eq!(rings.len(), 1, "{:?}", t.events);
    let ring = rings[0].clone();
    t.command(Command::Answer {
        leg: ring.leg.clone(),
        media: RemoteMedia::Source,
    });
    ring
}

#[test]
fn a_script_is_rung_with_where_its_source_goes_and_answers_the_caller() {
    let mut t = T::new();
    let ring = answered_script(&mut t, "s", rtp(RtpCodec::Pcma, 8));
    assert_eq!(ring.endpoint, "s-1");
    assert_eq!(ring.project_id, "proj");
    assert_eq!(ring.callee.1, "/public/ivr");
    let LocalMedia::Source(spot) = &ring.media else {
        panic!("{ring:?}");
    };
    assert_eq!(
        spot.codec,
        RtpCodec::Pcma,
        "the source speaks the caller's codec"
    );
    let (room, caller_member) = t.c.leg_room("s").unwrap();
    assert_eq!(Some(spot.room.as_str()), room);
    assert_eq!(spot.party_member, caller_member);
    // No engine offer for the source: its front-end adds it.
    assert!(
        !t.take_media()
            .iter()
            .any(|m| matches!(m, MediaCall::OfferMember { .. })),
    );
    let caller = t.take(SIP, "s");
    assert!(
        caller
            .iter()
            .any(|e| matches!(e, FrontEvent::EarlyMedia { .. })),
        "{caller:?}"
    );
    assert!(
        caller
            .iter()
            .any(|e| matches!(e, FrontEvent::Answered { media: None, .. })),
        "{caller:?}"
    );
    // A script's user_event reaches browsers only (this caller is a SIP leg).
    t.command(Command::UserEvent {
        leg: ring.leg.clone(),
        event: serde_json::json!({"myCustomEvent": "hello"}),
    });
    assert!(event_types(&t.take(SIP, "s")).is_empty());
    // The caller's keys reach the script as events.
    t.command(Command::Dtmf {
        leg: "s".into(),
        digits: "1".into(),
    });
    let script = t.take(SCRIPTS, &ring.leg);
    assert_eq!(event_params(&script, crate::DTMF_EVENT)["digits"], "1");
    // The script hangs up busy: the caller's call ends with its cause.
    t.hang_up(&ring.leg, Cause::UserBusy);
    assert_eq!(ended_cause(&t.take(SIP, "s")), Some(Cause::UserBusy));
    assert_eq!(t.c.leg_count(), 0);
    assert_eq!(t.c.room_count(), 0);
}

/// The caller `leg`'s member `member` moved (transport kept) into `room`: the engine was asked
/// once, the caller got `call.joined` of the room, and its call went on (no new answer, no end).
fn assert_moved(t: &mut T, leg: &str, room: &str, member: &str) {
    let moves: Vec<_> = t
        .take_media()
        .into_iter()
        .filter(|m| matches!(m, MediaCall::MoveMember { .. }))
        .collect();
    let expected = MediaCall::MoveMember {
        room: room.to_owned(),
        member: member.to_owned(),
    };
    assert_eq!(moves, [expected]);
    assert_eq!(t.c.leg_room(leg), Some((Some(room), member)));
    let caller = t.take(SIP, leg);
    assert_eq!(
        event_params(&caller, "call.joined")["room_session"]["id"],
        room
    );
    assert!(
        !caller
            .iter()
            .any(|e| matches!(e, FrontEvent::Answered { .. } | FrontEvent::Ended { .. })),
        "the caller's call goes on without a new answer: {caller:?}"
    );
}

#[test]
fn a_script_connects_its_caller_to_a_video_room_with_the_callers_media() {
    let mut t = T::new();
    t.browser_in_room("w", "alice");
    let ring = answered_script(&mut t, "s", RemoteMedia::WebRtc("offer".into()));
    let (_, caller_member) = t.c.leg_room("s").unwrap();
    let caller_member = caller_member.to_owned();
    let (video_room, _) = t.c.leg_room("w").unwrap();
    let video_room = video_room.unwrap().to_owned();
    t.take(SIP, "s");
    // The script's user_event reaches the browser caller, and only it.
    t.command(Command::UserEvent {
        leg: ring.leg.clone(),
        event: serde_json::json!({"myCustomEvent": "hello"}),
    });
    let caller = t.take(SIP, "s");
    assert_eq!(
        event_params(&caller, "user_event")["myCustomEvent"],
        "hello"
    );
    assert!(
        t.take(WEB, "w").is_empty(),
        "the room's member is not in the script's call"
    );
    t.take_media();
    t.command(Command::Connect {
        leg: ring.leg.clone(),
        to: Address::parse("/public/room").unwrap(),
        timeout: None,
    });
    assert_moved(&mut t, "s", &video_room, &caller_member);
    let member = t.take(WEB, "w");
    assert_eq!(
        event_params(&member, "member.joined")["member"]["name"],
        "DESK"
    );
    // The script's part is over.
    assert_eq!(
        ended_cause(&t.take(SCRIPTS, &ring.leg)),
        Some(Cause::NormalClearing)
    );
    assert_eq!(t.c.leg_count(), 2);
    assert_eq!(t.c.room_count(), 1, "the script's call room is closed");
}

#[test]
fn a_script_connect_that_cannot_be_made_leaves_the_call_as_it_was() {
    let mut t = T::new();
    let ring = answered_script(&mut t, "s", rtp(RtpCodec::Pcmu, 0));
    for (to, cause) in [
        ("/public/nobody", Cause::UnallocatedNumber),
        ("/public/bot", Cause::ServiceNotImplemented),
        ("/public/alice", Cause::UserNotRegistered),
    ] {
        t.command(Command::Connect {
            leg: ring.leg.clone(),
            to: Address::parse(to).unwrap(),
            timeout: None,
        });
        let script = t.take(SCRIPTS, &ring.leg);
        assert!(
            script
                .iter()
                .any(|e| matches!(e, FrontEvent::ConnectFailed { cause: c, .. } if *c == cause)),
            "{to}: {script:?}"
        );
    }
    assert_eq!(t.c.leg_count(), 2);
    // A leg that is not a script's cannot hand anyone on.
    t.take(SIP, "s");
    t.command(Command::Connect {
        leg: "s".into(),
        to: Address::parse("/public/room").unwrap(),
        timeout: None,
    });
    assert!(matches!(
        t.take(SIP, "s")[..],
        [FrontEvent::ConnectFailed { .. }]
    ));
}

#[test]
fn a_script_connects_its_caller_to_a_subscriber_who_answers() {
    let mut t = T::new();
    t.online(WEB, "alice-tab", "alice", Flavor::WebRtc, true);
    let ring = answered_script(&mut t, "s", rtp(RtpCodec::Pcmu, 0));
    let (script_room, caller_member) = t.c.leg_room("s").unwrap();
    let (script_room, caller_member) = (script_room.unwrap().to_owned(), caller_member.to_owned());
    t.take(SIP, "s");
    t.take_media();
    t.command(Command::Connect {
        leg: ring.leg.clone(),
        to: Address::parse("/public/alice").unwrap(),
        timeout: Some(Duration::from_secs(20)),
    });
    let rings = t.rings(WEB);
    assert_eq!(rings.len(), 1, "alice's tab rings");
    assert_eq!(rings[0].caller.0, "DESK");
    // While alice rings, the caller stays with the script, answered.
    assert_eq!(t.c.leg_room("s").unwrap().0, Some(script_room.as_str()));
    assert!(t.take(SIP, "s").is_empty());
    t.command(Command::Answer {
        leg: rings[0].leg.clone(),
        media: RemoteMedia::WebRtc("answer".into()),
    });
    let (call_room, _) = t.c.leg_room(&rings[0].leg).unwrap();
    let call_room = call_room.unwrap().to_owned();
    assert_moved(&mut t, "s", &call_room, &caller_member);
    let alice = t.take(WEB, &rings[0].leg);
    assert!(
        alice
            .iter()
            .any(|e| matches!(e, FrontEvent::Answered { .. })),
        "{alice:?}"
    );
    assert_eq!(
        ended_cause(&t.take(SCRIPTS, &ring.leg)),
        Some(Cause::NormalClearing)
    );
    assert_eq!(t.c.room_count(), 1, "only the call room is left");
    // Either side hanging up ends the call.
    t.hang_up("s", Cause::NormalClearing);
    assert_eq!(
        ended_cause(&t.take(WEB, &rings[0].leg)),
        Some(Cause::NormalClearing)
    );
    assert_eq!(t.c.leg_count(), 0);
}

#[test]
fn a_script_connect_nobody_answers_leaves_the_caller_with_the_script() {
    let mut t = T::new();
    t.online(WEB, "alice-tab", "alice", Flavor::WebRtc, true);
    let ring = answered_script(&mut t, "s", rtp(RtpCodec::Pcmu, 0));
    t.take(SIP, "s");
    t.command(Command::Connect {
        leg: ring.leg.clone(),
        to: Address::parse("/public/alice").unwrap(),
        timeout: Some(Duration::from_secs(5)),
    });
    let rung = t.rings(WEB)[0].leg.clone();
    assert!(t.c.next_deadline().is_some());
    t.at += Duration::from_secs(6);
    let now = t.now();
    t.c.on_tick(now);
    t.pump();
    assert!(t.take(SCRIPTS, &ring.leg).iter().any(|e| matches!(
        e,
        FrontEvent::ConnectFailed {
            cause: Cause::NoAnswer,
            ..
        }
    )),);
    assert_eq!(ended_cause(&t.take(WEB, &rung)), Some(Cause::NoAnswer));
    assert!(t.take(SIP, "s").is_empty(), "the caller's call goes on");
    assert_eq!(t.c.leg_count(), 2);
    assert_eq!(t.c.room_count(), 1);

    // Ringing again, the caller hangs up: alice stops ringing.
    t.command(Command::Connect {
        leg: ring.leg.clone(),
        to: Address::parse("/public/alice").unwrap(),
        timeout: None,
    });
    let rung = t.rings(WEB)[0].leg.clone();
    t.hang_up("s", Cause::NormalClearing);
    assert_eq!(
        ended_cause(&t.take(WEB, &rung)),
        Some(Cause::OriginatorCancel)
    );
    assert_eq!(
        ended_cause(&t.take(SCRIPTS, &ring.leg)),
        Some(Cause::NormalClearing)
    );
    assert_eq!(t.c.leg_count(), 0);
    assert_eq!(t.c.room_count(), 0);
}
