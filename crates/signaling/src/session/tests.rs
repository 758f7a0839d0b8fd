use super::*;
use crate::directory::{Identity, Subject};
use crate::message::Connected;

struct Harness {
    s: Session,
    t0: Instant,
    at: Duration,
}

fn identity() -> Identity {
    Identity {
        project_id: "proj".into(),
        subject: Subject::Subscriber {
            subscriber_id: "alice".into(),
        },
        jti: "jti1".into(),
        expires_at: 1_900_000_000,
        scopes: vec![],
        display_name: "Alice".into(),
        application_id: None,
    }
}

fn connect_frame(id: &str, protocol: Option<&str>) -> String {
    let mut params = json!({"version":{"major":4,"minor":0,"revision":0},"event_acks":true,
        "agent":"@signalwire/js/browser/3.30.0","authentication":{"jwt_token":"TOKEN"}});
    if let Some(p) = protocol {
        params["protocol"] = json!(p);
    }
    rpc::request(id, "signalwire.connect", &params)
}

impl Harness {
    fn new() -> Self {
        Self::with(SessionConfig::default())
    }

    fn with(cfg: SessionConfig) -> Self {
        let t0 = Instant::now();
        Self {
            s: Session::new(Arc::new(cfg), t0),
            t0,
            at: Duration::ZERO,
        }
    }

    fn now(&self) -> Now {
        Now {
            mono: self.t0 + self.at,
            unix: 1_800_000_000.0 + self.at.as_secs_f64(),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.at += d;
        let now = self.now();
        self.s.on_tick(now);
    }

    fn frame(&mut self, text: &str) {
        let now = self.now();
        self.s.on_frame(now, text);
    }

    fn down(&mut self, msg: Down) {
        let now = self.now();
        self.s.on_down(now, msg);
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.s.poll_output()).collect()
    }

    fn sent(&mut self) -> Vec<Value> {
        self.drain()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send(f) => Some(serde_json::from_str(&f).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn connected(mut self) -> Self {
        self.frame(&connect_frame("c1", None));
        let out = self.drain();
        assert!(
            matches!(&out[..], [Output::Up(Up::Connect { token, protocol: None, .. })] if token == "TOKEN")
        );
        self.down(Down::Connected(Box::new(Connected {
            identity: identity(),
            protocol: "signalwire_jti1_p".into(),
            authorization_state: "state-1".into(),
            replay: vec![],
        })));
        let sent = self.sent();
        assert_eq!(sent[0]["id"], "c1");
        assert_eq!(sent[0]["result"]["protocol"], "signalwire_jti1_p");
        assert_eq!(
            sent[1]["params"]["event_type"],
            "signalwire.authorization.state"
        );
        let ack = sent[1]["id"].as_str().unwrap().to_owned();
        self.frame(&rpc::result(&json!(ack), &json!({})));
        self
    }

    fn request(&mut self, id: &str, method: &str, params: Value) -> Vec<Output> {
        self.frame(&rpc::request(id, method, &params));
        self.drain()
    }
}

fn up_request(out: &[Output]) -> (ReqId, Request) {
    match out {
        [Output::Up(Up::Request { req, request })] => (*req, request.clone()),
        other => panic!("expected one hub request, got {other:?}"),
    }
}

fn verto(method: &str, params: Value) -> Value {
    json!({"message":{"jsonrpc":"2.0","id":"v1","method":method,"params":params},"callID":"call-1"})
}

#[test]
fn connect_reply_then_authorization_state_event() {
    let mut h = Harness::new().connected();
    assert_eq!(h.s.protocol(), Some("signalwire_jti1_p"));
    assert!(h.drain().is_empty());
}

#[test]
fn requests_before_connect_are_refused_and_connect_times_out() {
    let mut h = Harness::new();
    let out = h.request("x", "subscriber.online", json!({}));
    let Output::Send(f) = &out[0] else { panic!() };
    assert!(f.contains("-32002"));
    h.advance(Duration::from_secs(11));
    assert!(matches!(
        h.drain().last(),
        Some(Output::Close { code: 1008, .. })
    ));
}

#[test]
fn refused_resume_keeps_socket_and_allows_fresh_connect() {
    let mut h = Harness::new();
    h.frame(&connect_frame("c1", Some("signalwire_old_x")));
    h.drain();
    h.down(Down::ConnectRejected {
        message: REQUESTER_VALIDATION_FAILED.into(),
    });
    let sent = h.sent();
    assert_eq!(sent[0]["error"]["message"], REQUESTER_VALIDATION_FAILED);
    assert!(!h.s.is_closed());
    h.frame(&connect_frame("c2", None));
    assert!(matches!(
        &h.drain()[..],
        [Output::Up(Up::Connect { protocol: None, .. })]
    ));
}

#[test]
fn bad_token_gets_error_then_close() {
    let mut h = Harness::new();
    h.frame(&connect_frame("c1", None));
    h.drain();
    h.down(Down::ConnectRejected {
        message: "Invalid token".into(),
    });
    let out = h.drain();
    assert!(matches!(&out[0], Output::Send(f) if f.contains("Invalid token")));
    assert!(matches!(&out[1], Output::Close { code: 1008, .. }));
}

#[test]
fn pings_every_interval_and_close_after_missed() {
    let mut h = Harness::new().connected();
    h.advance(Duration::from_secs(8));
    let sent = h.sent();
    assert_eq!(sent[0]["method"], "signalwire.ping");
    let ping_id = sent[0]["id"].clone();
    h.frame(&rpc::result(
        &ping_id,
        &json!({"timestamp": sent[0]["params"]["timestamp"]}),
    ));
    h.advance(Duration::from_secs(8));
    assert_eq!(h.sent()[0]["method"], "signalwire.ping");
    h.advance(Duration::from_secs(8));
    assert_eq!(h.sent()[0]["method"], "signalwire.ping");
    h.advance(Duration::from_secs(8));
    assert!(matches!(
        h.drain().last(),
        Some(Output::Close {
            reason: "ping timeout",
            ..
        })
    ));
}

#[test]
fn events_wait_for_acks_and_are_resent_once() {
    let mut h = Harness::new().connected();
    h.down(Down::Event(Event::new("member.joined", json!({"n": 1}))));
    h.down(Down::Event(Event::new("member.joined", json!({"n": 2}))));
    let sent = h.sent();
    assert_eq!(sent.len(), 1, "window of one");
    assert_eq!(sent[0]["params"]["params"]["n"], 1);
    assert_eq!(sent[0]["params"]["event_channel"], "signalwire_jti1_p");
    let first = sent[0]["id"].clone();
    h.advance(Duration::from_secs(5));
    let resent = h.sent();
    assert_eq!(resent[0]["id"], first, "retransmitted with the same id");
    h.frame(&rpc::result(&first, &json!({})));
    let sent = h.sent();
    assert_eq!(sent[0]["params"]["params"]["n"], 2);
    h.advance(Duration::from_secs(5));
    h.sent();
    h.advance(Duration::from_secs(5));
    assert!(matches!(
        h.drain().last(),
        Some(Output::Close { code: 1011, .. })
    ));
    let unacked = h.s.take_unacked();
    assert_eq!(unacked.len(), 1);
    assert_eq!(unacked[0].params["n"], 2);
}

#[test]
fn webrtc_message_envelope_has_project_and_node() {
    let mut h = Harness::new().connected();
    h.down(Down::Event(Event::new(
        "webrtc.message",
        json!({"method": "verto.answer"}),
    )));
    let sent = h.sent();
    assert_eq!(sent[0]["params"]["project_id"], "proj");
    assert_eq!(sent[0]["params"]["node_id"], "weft-node-1");
}

#[test]
fn replay_is_delivered_after_resume() {
    let mut h = Harness::new();
    h.frame(&connect_frame("c1", Some("signalwire_jti1_p")));
    h.drain();
    h.down(Down::Connected(Box::new(Connected {
        identity: identity(),
        protocol: "signalwire_jti1_p".into(),
        authorization_state: "s".into(),
        replay: vec![Event::new("member.left", json!({}))],
    })));
    let sent = h.sent();
    let ack = sent[1]["id"].clone();
    h.frame(&rpc::result(&ack, &json!({})));
    assert_eq!(h.sent()[0]["params"]["event_type"], "member.left");
}

#[test]
fn verto_invite_goes_to_hub_and_reply_is_wrapped() {
    let mut h = Harness::new().connected();
    let params = verto(
        "verto.invite",
        json!({"dialogParams":{"callID":"call-1","destination_number":"/public/room?channel=video","attach":false},"sdp":"v=0"}),
    );
    let out = h.request("r1", "webrtc.verto", params);
    let (req, request) = up_request(&out);
    assert_eq!(
        request,
        Request::Invite(Invite {
            call_id: "call-1".into(),
            destination: "/public/room?channel=video".into(),
            sdp: "v=0".into(),
            attach: false,
            screen_share_of: None,
        })
    );
    h.down(Down::Reply {
        req,
        result: Ok(json!({"message": "CALL CREATED", "callID": "call-1"})),
    });
    let sent = h.sent();
    assert_eq!(sent[0]["id"], "r1");
    assert_eq!(sent[0]["result"]["code"], "200");
    assert_eq!(sent[0]["result"]["result"]["jsonrpc"], "2.0");
    assert_eq!(sent[0]["result"]["result"]["id"], "v1");
    assert_eq!(
        sent[0]["result"]["result"]["result"]["message"],
        "CALL CREATED"
    );
}

#[test]
fn verto_acks_and_pongs_are_answered_locally() {
    let mut h = Harness::new().connected();
    let ack = json!({"message":{"jsonrpc":"2.0","id":"srv-1","result":{"method":"verto.answer"}},"node_id":"n"});
    let sent = {
        h.request("a1", "webrtc.verto", ack);
        h.s.recent.back().unwrap().1.clone().unwrap()
    };
    assert!(sent.contains(r#""code":"200""#));
    let out = h.request(
        "a2",
        "webrtc.verto",
        verto("verto.pong", json!({"callID":"call-1"})),
    );
    assert!(matches!(&out[..], [Output::Send(f)] if f.contains("verto.pong")));
}

#[test]
fn duplicate_ids_get_the_same_reply_once_answered() {
    let mut h = Harness::new().connected();
    let out = h.request("d1", "subscriber.online", json!({}));
    let (req, _) = up_request(&out);
    assert!(
        h.request("d1", "subscriber.online", json!({})).is_empty(),
        "in flight: ignored"
    );
    h.down(Down::Reply {
        req,
        result: Ok(json!({})),
    });
    let first = h.drain();
    let again = h.request("d1", "subscriber.online", json!({}));
    assert_eq!(first, again);
}

#[test]
fn every_request_is_answered_before_the_sdk_gives_up() {
    let mut h = Harness::new().connected();
    h.request("slow", "subscriber.online", json!({}));
    h.advance(Duration::from_secs(8));
    let sent = h.sent();
    let reply = sent.iter().find(|f| f["id"] == "slow").unwrap();
    assert_eq!(reply["error"]["code"], INTERNAL_ERROR);
    // A retry after the timeout is processed afresh.
    let out = h.request("slow", "subscriber.online", json!({}));
    up_request(&out);
}

#[test]
fn unknown_methods_and_bad_params_get_json_rpc_errors() {
    let mut h = Harness::new().connected();
    let out = h.request("u1", "foo.bar", json!({}));
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32601")));
    let out = h.request("u2", "webrtc.verto", json!({"message": 5}));
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32602")));
    let out = h.request("u3", "call.mute", json!({"channels": ["audio"]}));
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32602")));
    let bad_dtmf = verto(
        "verto.info",
        json!({"dialogParams":{"callID":"c"},"dtmf":"<script>"}),
    );
    let out = h.request("u4", "webrtc.verto", bad_dtmf);
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32602")));
    assert!(!h.s.is_closed());
}

#[test]
fn sdps_with_more_media_sections_than_the_cap_are_refused() {
    let mut h = Harness::new().connected();
    let max = SessionConfig::default().max_sdp_sections;
    let sdp = |sections: usize| {
        format!(
            "v=0\r\n{}",
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n".repeat(sections)
        )
    };
    let invite = |sections: usize| {
        verto(
            "verto.invite",
            json!({"dialogParams":{"callID":"c","destination_number":"/public/room"},"sdp":sdp(sections)}),
        )
    };
    let out = h.request("s1", "webrtc.verto", invite(max + 1));
    let [Output::Send(refusal)] = &out[..] else {
        panic!("one refusal expected: {out:?}");
    };
    let refusal: Value = serde_json::from_str(refusal).unwrap();
    assert_eq!(refusal["error"]["code"], -32602);
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} media sections; at most {max}", max + 1)),
        "{message}"
    );
    let update = verto(
        "verto.modify",
        json!({"dialogParams":{"callID":"c"},"action":"updateMedia","sdp":sdp(max + 1)}),
    );
    let out = h.request("s2", "webrtc.verto", update);
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32602")));
    let out = h.request("s3", "webrtc.verto", invite(max));
    let (_, request) = up_request(&out);
    assert!(matches!(request, Request::Invite(_)));
}

#[test]
fn repeated_garbage_closes_the_socket() {
    let mut h = Harness::new().connected();
    for i in 0..9 {
        h.frame(&format!("garbage {i}"));
    }
    assert!(!h.s.is_closed());
    h.frame("{{{");
    let out = h.drain();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Send(f) if f.contains("-32700")))
    );
    assert!(matches!(out.last(), Some(Output::Close { code: 1008, .. })));
}

#[test]
fn oversized_frames_are_refused() {
    let mut h = Harness::with(SessionConfig {
        max_frame_bytes: 1000,
        ..SessionConfig::default()
    })
    .connected();
    let big = rpc::request("b", "subscriber.online", &json!({"pad": "x".repeat(2000)}));
    h.frame(&big);
    let sent = h.sent();
    assert_eq!(sent[0]["error"]["code"], INVALID_REQUEST);
}

#[test]
fn request_floods_are_rate_limited_then_closed() {
    let mut h = Harness::new().connected();
    let mut limited = 0;
    for i in 0..200 {
        for o in h.request(&format!("f{i}"), "signalwire.ping", json!({})) {
            if matches!(&o, Output::Send(f) if f.contains("-32000")) {
                limited += 1;
            }
        }
        if h.s.is_closed() {
            break;
        }
    }
    assert!(limited > 0);
    assert!(h.s.is_closed());
}

#[test]
fn rate_limit_refills_over_time() {
    let mut h = Harness::new().connected();
    for i in 0..60 {
        h.request(&format!("f{i}"), "signalwire.ping", json!({}));
    }
    let out = h.request("over", "signalwire.ping", json!({}));
    assert!(matches!(&out[0], Output::Send(f) if f.contains("-32000")));
    h.advance(Duration::from_secs(1));
    h.drain();
    let out = h.request("later", "signalwire.ping", json!({}));
    assert!(matches!(&out[0], Output::Send(f) if f.contains("result")));
}

#[test]
fn shutdown_sends_disconnect_and_closes_after_ack() {
    let mut h = Harness::new().connected();
    h.down(Down::Shutdown);
    let sent = h.sent();
    assert_eq!(sent[0]["method"], "signalwire.disconnect");
    h.frame(&rpc::result(&sent[0]["id"], &json!({})));
    assert!(matches!(
        h.drain().last(),
        Some(Output::Close { code: 1000, .. })
    ));
}

#[test]
fn controls_and_modify_are_parsed_for_the_hub() {
    let mut h = Harness::new().connected();
    let p = json!({"channels":["video"],"self":{"member_id":"m","call_id":"call-1","node_id":"n"},
                   "target":{"member_id":"m","call_id":"call-1","node_id":"n"}});
    let (_, r) = up_request(&h.request("k1", "call.mute", p));
    assert!(matches!(r, Request::Control { call_id, .. } if call_id == "call-1"));
    let m = verto(
        "verto.modify",
        json!({"dialogParams":{"callID":"call-1"},"action":"updateMedia","sdp":"v=0"}),
    );
    let (_, r) = up_request(&h.request("k2", "webrtc.verto", m));
    assert_eq!(
        r,
        Request::Modify {
            call_id: "call-1".into(),
            action: ModifyAction::UpdateMedia("v=0".into())
        }
    );
    let b = verto(
        "verto.bye",
        json!({"cause":"USER_BUSY","causeCode":"17","dialogParams":{"callID":"call-1"}}),
    );
    let (_, r) = up_request(&h.request("k3", "webrtc.verto", b));
    assert_eq!(
        r,
        Request::Bye {
            call_id: "call-1".into(),
            cause: Some("USER_BUSY".into())
        }
    );
}

#[test]
fn slow_consumers_are_closed() {
    let mut h = Harness::with(SessionConfig {
        max_queued_events: 4,
        ..SessionConfig::default()
    })
    .connected();
    for _ in 0..5 {
        h.down(Down::Event(Event::new("member.talking", json!({}))));
    }
    assert!(h.s.is_closed());
}

#[test]
fn verto_subscribe_and_client_pings_are_answered_locally() {
    let mut h = Harness::new().connected();
    let sub = json!({"message":{"jsonrpc":"2.0","id":"s1","method":"verto.subscribe",
                     "params":{"sessid":"call-1","eventChannel":[]}},"callID":"call-1","node_id":"n"});
    let out = h.request("p1", "webrtc.verto", sub);
    assert!(matches!(&out[..], [Output::Send(f)] if f.contains("subscribedChannels")));
    let out = h.request("p2", "signalwire.ping", json!({"timestamp": 5.5}));
    assert!(matches!(&out[..], [Output::Send(f)] if f.contains("5.5")));
}

#[test]
fn answered_requests_are_counted_by_method_label() {
    let mut h = Harness::new().connected();
    h.request("p1", "signalwire.ping", json!({"timestamp": 1.0}));
    h.request("x1", "no.such.method", json!({}));
    let out = h.request("v1", "webrtc.verto", verto("verto.invite", json!({
        "sdp": "v=0", "dialogParams": {"callID": "call-1", "destination_number": "/public/room"}
    })));
    let (req, _) = up_request(&out);
    h.down(Down::Reply {
        req,
        result: Ok(json!({"message": "CALL CREATED"})),
    });
    h.frame("not json");
    let answered: Vec<_> = h.s.take_answered().collect();
    assert_eq!(
        answered,
        [
            ("signalwire.connect", true),
            ("signalwire.ping", true),
            ("unknown", false),
            ("verto.invite", true),
            ("invalid", false),
        ]
    );
    assert_eq!(h.s.take_answered().count(), 0);
}
