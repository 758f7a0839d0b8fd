//! Costs of the sans-IO cores: `cargo bench -p weft-signaling --bench signaling`.
//! Prints ns per operation; no timing thresholds (numbers go to BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use weft_calls::directory::{Target, TargetKind};
use weft_calls::media::{LocalMedia, MediaCall, MediaEvent};
use weft_calls::{Controller, ControllerConfig};
use weft_signaling::directory::{Identity, Subject};
use weft_signaling::hub::{Hub, HubConfig, HubOutput};
use weft_signaling::message::{Connected, Down, Event, Invite, Request, Up};
use weft_signaling::rpc;
use weft_signaling::session::{Now, Output, Session, SessionConfig};

fn identity(who: &str) -> Identity {
    Identity {
        project_id: "proj".into(),
        subject: Subject::Subscriber {
            subscriber_id: who.into(),
        },
        jti: format!("jti-{who}"),
        expires_at: 1_900_000_000,
        scopes: vec![],
        display_name: who.into(),
        application_id: None,
    }
}

fn report(name: &str, n: u64, elapsed: Duration) {
    println!(
        "{name:<58} {:>10.0} ns/op  ({n} ops)",
        elapsed.as_nanos() as f64 / n as f64
    );
}

fn connected_session(t0: Instant) -> Session {
    let mut s = Session::new(Arc::new(SessionConfig::default()), t0);
    let now = Now {
        mono: t0,
        unix: 1.8e9,
    };
    let connect = rpc::request(
        "c",
        "signalwire.connect",
        &json!({"authentication":{"jwt_token":"t"}}),
    );
    s.on_frame(now, &connect);
    s.on_down(
        now,
        Down::Connected(Box::new(Connected {
            identity: identity("alice"),
            protocol: "signalwire_jti-alice_x".into(),
            authorization_state: "s".into(),
            replay: vec![],
        })),
    );
    while let Some(out) = s.poll_output() {
        if let Output::Send(frame) = out
            && frame.contains("signalwire.authorization.state")
        {
            ack(&mut s, now, &frame);
        }
    }
    s
}

/// Acknowledges the event in `frame`.
fn ack(s: &mut Session, now: Now, frame: &str) {
    let v: serde_json::Value = serde_json::from_str(frame).unwrap_or_default();
    s.on_frame(now, &rpc::result(&v["id"], &json!({})));
}

/// Decoding and dispatching a `verto.invite` with a browser-sized SDP.
fn session_invite() {
    let t0 = Instant::now();
    let sdp = format!(
        "v=0\r\n{}",
        "a=candidate:1 1 udp 2122260223 192.168.1.10 50000 typ host\r\n".repeat(60)
    );
    let n = 20_000u64;
    let frames: Vec<String> = (0..n)
        .map(|i| {
            let msg = json!({"jsonrpc":"2.0","id":format!("v{i}"),"method":"verto.invite","params":{
                "dialogParams":{"callID":format!("call-{i}"),"destination_number":"/public/room?channel=video"},
                "sdp": sdp}});
            rpc::request(&format!("r{i}"), "webrtc.verto", &json!({"message": msg}))
        })
        .collect();
    let mut s = connected_session(t0);
    let start = Instant::now();
    for (i, f) in frames.iter().enumerate() {
        // Stay under the rate limit: 100 ms of session time per request.
        let now = Now {
            mono: t0 + Duration::from_millis(100 * i as u64),
            unix: 1.8e9,
        };
        s.on_frame(now, f);
        while let Some(o) = s.poll_output() {
            black_box(o);
        }
    }
    report(
        &format!(
            "session: decode+dispatch verto.invite ({} B)",
            frames[0].len()
        ),
        n,
        start.elapsed(),
    );
}

/// Encoding a `signalwire.event`, sending it, and processing its ack.
fn session_event_round_trip() {
    let t0 = Instant::now();
    let mut s = connected_session(t0);
    let now = Now {
        mono: t0,
        unix: 1.8e9,
    };
    let params = json!({"room_id":"r","room_session_id":"rs","member":{"member_id":"m","node_id":"n","talking":true}});
    let event = Event::new("member.talking", params);
    let n = 100_000u64;
    let start = Instant::now();
    for _ in 0..n {
        s.on_down(now, Down::Event(event.clone()));
        if let Some(Output::Send(frame)) = s.poll_output() {
            ack(&mut s, now, &frame);
        }
    }
    report("session: event encode + send + ack", n, start.elapsed());
}

/// The hub and the call controller it fronts.
struct Pair {
    hub: Hub,
    calls: Controller,
}

/// Joins `members` subscribers into one room through the hub and the controller, answering
/// their requests inline.
fn hub_with_room(members: u64) -> (Pair, Instant, String) {
    let t0 = Instant::now();
    let mut pair = Pair {
        hub: Hub::new(HubConfig {
            max_sessions_per_subject: usize::MAX,
            ..HubConfig::default()
        }),
        calls: Controller::new(ControllerConfig::default()),
    };
    let mut room = String::new();
    for conn in 0..members {
        pair.hub.open(conn);
        pair.hub.on_up(
            t0,
            conn,
            Up::Connect {
                token: format!("u{conn}"),
                protocol: None,
                authorization_state: None,
            },
        );
        drive(&mut pair, t0, &mut room);
        let invite = Invite {
            call_id: format!("call-{conn}"),
            destination: "/public/room".into(),
            sdp: "v=0".into(),
            attach: false,
            screen_share_of: None,
        };
        pair.hub.on_up(
            t0,
            conn,
            Up::Request {
                req: 1,
                request: Request::Invite(invite),
            },
        );
        drive(&mut pair, t0, &mut room);
    }
    (pair, t0, room)
}

fn drive(pair: &mut Pair, now: Instant, room: &mut String) -> u64 {
    let mut delivered = 0;
    loop {
        if let Some(out) = pair.hub.poll_output() {
            match out {
                HubOutput::ToConn(..) => delivered += 1,
                HubOutput::VerifyToken(op, t) => pair.hub.on_token(op, Ok(identity(&t))),
                HubOutput::Calls(command) => pair.calls.on_command(now, command),
            }
            continue;
        }
        let Some(out) = pair.calls.poll_output() else {
            return delivered;
        };
        match out {
            weft_calls::Output::Front(_, event) => pair.hub.on_calls(event),
            weft_calls::Output::Resolve { op, .. } => {
                let target = Target {
                    kind: TargetKind::VideoRoom,
                    resource_id: "room-1".into(),
                    address_id: "a".into(),
                    name: "room".into(),
                    display_name: "Room".into(),
                };
                pair.calls.on_resolved(now, op, Ok(Some(target)));
            }
            weft_calls::Output::Media(op, call) => {
                if let MediaCall::AddMember { room: r, .. } = &call {
                    room.clone_from(r);
                }
                pair.calls
                    .on_media(now, op, Ok(Some(LocalMedia::Sdp("v=0".into()))));
            }
        }
    }
}

fn hub_join() {
    let members = 100;
    let start = Instant::now();
    let (pair, _, _) = hub_with_room(members);
    black_box(pair.calls.room_count());
    report(
        "hub: connect + join one room (100 members, fake lookups)",
        members,
        start.elapsed(),
    );
}

fn hub_talking_fan_out() {
    let members = 100u64;
    let (mut pair, t0, room) = hub_with_room(members);
    let member = pair
        .calls
        .leg_room("call-0")
        .map(|(_, m)| m.to_owned())
        .unwrap_or_default();
    let n = 2_000u64;
    let mut delivered = 0;
    let start = Instant::now();
    for i in 0..n {
        let event = MediaEvent::Talking {
            room: room.clone(),
            member: member.clone(),
            talking: i % 2 == 0,
        };
        pair.calls.on_media_event(event);
        delivered += drive(&mut pair, t0, &mut String::new());
    }
    report(
        &format!("hub: member.talking fan-out to {members} members, per delivery"),
        delivered,
        start.elapsed(),
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let benches: [(&str, fn()); 4] = [
        ("session_invite", session_invite),
        ("session_event_round_trip", session_event_round_trip),
        ("hub_join", hub_join),
        ("hub_talking_fan_out", hub_talking_fan_out),
    ];
    for (name, bench) in benches {
        if filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())) {
            bench();
        }
    }
}
