//! The shell over real WebSockets on loopback, with fake directory and media engines.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weft_calls::media::{Flavor, LocalMedia, Media, MediaFailure, MediaKind, RemoteMedia};
use weft_signaling::{Signaling, SignalingConfig};

#[derive(Default)]
struct FakeMedia {
    calls: Mutex<Vec<String>>,
}

impl FakeMedia {
    fn log(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
}

impl Media for FakeMedia {
    async fn add_member(
        &self,
        room: &str,
        member: &str,
        _offer: &RemoteMedia,
    ) -> Result<LocalMedia, MediaFailure> {
        self.log(format!("add {room} {member}"));
        Ok(LocalMedia::Sdp("v=0\r\nanswer\r\n".into()))
    }
    async fn offer_member(
        &self,
        _room: &str,
        member: &str,
        _flavor: Flavor,
        _video: bool,
    ) -> Result<LocalMedia, MediaFailure> {
        self.log(format!("offer {member}"));
        Ok(LocalMedia::Sdp(
            "v=0\r\nm=audio 9 x\r\na=ice-ufrag:a\r\nm=video 9 x\r\na=ice-ufrag:v\r\n".into(),
        ))
    }
    async fn accept_answer(&self, member: &str, _answer: &RemoteMedia) -> Result<(), MediaFailure> {
        self.log(format!("accept {member}"));
        Ok(())
    }
    async fn renegotiate(
        &self,
        member: &str,
        _offer: &RemoteMedia,
    ) -> Result<Option<LocalMedia>, MediaFailure> {
        self.log(format!("renegotiate {member}"));
        Ok(Some(LocalMedia::Sdp("v=0\r\nanswer2\r\n".into())))
    }
    async fn send_dtmf(&self, member: &str, digits: &str) -> Result<(), MediaFailure> {
        self.log(format!("dtmf {member} {digits}"));
        Ok(())
    }
    async fn set_muted(
        &self,
        member: &str,
        kind: MediaKind,
        muted: bool,
    ) -> Result<(), MediaFailure> {
        self.log(format!("mute {member} {kind:?} {muted}"));
        Ok(())
    }
    async fn set_deaf(&self, member: &str, deaf: bool) -> Result<(), MediaFailure> {
        self.log(format!("deaf {member} {deaf}"));
        Ok(())
    }
    async fn remove_member(&self, member: &str) -> Result<(), MediaFailure> {
        self.log(format!("remove {member}"));
        Ok(())
    }
    async fn close_room(&self, room: &str) -> Result<(), MediaFailure> {
        self.log(format!("close {room}"));
        Ok(())
    }
}

async fn serve(cfg: SignalingConfig) -> (std::net::SocketAddr, Arc<FakeMedia>, Signaling) {
    let media = Arc::new(FakeMedia::default());
    let (addr, signaling, _calls) = common::serve(cfg, media.clone()).await;
    (addr, media, signaling)
}

#[tokio::test]
async fn connect_online_dial_room_and_bye() {
    let (addr, media, _sig) = serve(SignalingConfig::default()).await;
    let mut alice = Client::connect(addr, "alice").await;
    assert!(alice.protocol.starts_with("signalwire_jtialice_"));
    let state = alice.event_type("signalwire.authorization.state").await;
    assert_eq!(state["event_channel"], alice.protocol.as_str());
    assert_eq!(alice.call("subscriber.online", json!({})).await, json!({}));

    let reply = alice.dial("call-a", "/public/lobby?channel=video").await;
    assert_eq!(reply["code"], "200");
    assert_eq!(reply["result"]["result"]["callID"], "call-a");
    let answer = alice.verto_event("verto.answer").await;
    assert_eq!(answer["callID"], "call-a");
    assert_eq!(answer["sdp"], "v=0\r\nanswer\r\n");
    let joined = alice.event_type("call.joined").await;
    assert_eq!(joined["params"]["call_id"], "call-a");
    let member_a = joined["params"]["member_id"].as_str().unwrap().to_owned();
    // The client acks the Verto answer with a request that must be answered.
    let ack = json!({"message":{"jsonrpc":"2.0","id":"srv","result":{"method":"verto.answer"}},"node_id":"n"});
    assert_eq!(alice.call("webrtc.verto", ack).await["code"], "200");

    let mut bob = Client::connect(addr, "bob").await;
    bob.dial("call-b", "/public/lobby?channel=video").await;
    let joined_b = bob.event_type("call.joined").await;
    assert_eq!(
        joined_b["params"]["room_session"]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let member_b = joined_b["params"]["member_id"].as_str().unwrap().to_owned();
    let seen = alice.event_type("member.joined").await;
    assert_eq!(seen["params"]["member"]["member_id"], member_b.as_str());

    let target = json!({"member_id": member_b, "call_id": "call-b", "node_id": "n"});
    let mute = json!({"channels":["audio"],"self": target, "target": target});
    assert_eq!(bob.call("call.mute", mute).await["code"], "200");
    let updated = alice.event_type("member.updated").await;
    assert_eq!(updated["params"]["member"]["audio_muted"], true);
    assert_eq!(
        updated["params"]["member"]["updated"],
        json!(["audio_muted"])
    );

    let bye = bob.verto("verto.bye", "call-b", json!({})).await;
    assert_eq!(bye["result"]["result"]["cause"], "NORMAL_CLEARING");
    let left = alice.event_type("member.left").await;
    assert_eq!(left["params"]["member"]["member_id"], member_b.as_str());
    alice.verto("verto.bye", "call-a", json!({})).await;

    tokio::time::sleep(Duration::from_millis(100)).await;
    let calls = media.calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .any(|c| c == &format!("mute {member_b} Audio true")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == &format!("remove {member_a}")),
        "{calls:?}"
    );
    assert!(calls.iter().any(|c| c.starts_with("close ")), "{calls:?}");
}

#[tokio::test]
async fn subscriber_call_rings_and_connects() {
    let (addr, _media, _sig) = serve(SignalingConfig::default()).await;
    let mut alice = Client::connect(addr, "alice").await;
    alice.call("subscriber.online", json!({})).await;
    let mut bob = Client::connect(addr, "bob").await;
    bob.dial("bob-call", "/public/alice?channel=video").await;
    let early = bob.verto_event("verto.media").await;
    assert_eq!(early["sdp"], "v=0\r\nanswer\r\n");
    let invite = alice.verto_event("verto.invite").await;
    assert!(!invite["sdp"].as_str().unwrap().contains("BUNDLE"));
    let inbound = invite["callID"].as_str().unwrap().to_owned();
    let answer = json!({"sdp": "v=0\r\nalice-answer\r\n"});
    assert_eq!(
        alice.verto("verto.answer", &inbound, answer).await["code"],
        "200"
    );
    alice.verto_event("verto.answer").await;
    let joined = alice.event_type("call.joined").await;
    assert_eq!(joined["params"]["call_id"], inbound.as_str());
    bob.verto_event("verto.answer").await;
    let joined = bob.event_type("call.joined").await;
    assert_eq!(joined["params"]["call_id"], "bob-call");
    bob.verto("verto.bye", "bob-call", json!({})).await;
    let bye = alice.verto_event("verto.bye").await;
    assert_eq!(bye["cause"], "NORMAL_CLEARING");
}

#[tokio::test]
async fn dropped_socket_resumes_by_protocol() {
    let (addr, _media, _sig) = serve(SignalingConfig::default()).await;
    let mut alice = Client::connect(addr, "alice").await;
    alice.call("subscriber.online", json!({})).await;
    let protocol = alice.protocol.clone();
    drop(alice);
    let mut again = Client::open(addr).await;
    let r = again.connect_with("tok-alice", Some(&protocol)).await;
    assert_eq!(r["result"]["protocol"], protocol.as_str());
    let mut stranger = Client::open(addr).await;
    let r = stranger
        .connect_with("tok-alice", Some("signalwire_jtialice_unknown"))
        .await;
    assert_eq!(r["error"]["message"], "Requester validation failed");
    let r = stranger.connect_with("tok-alice", None).await;
    assert!(
        r["result"]["protocol"].is_string(),
        "a fresh connect works on the same socket"
    );
    // Presence survived the resume: bob can ring alice.
    let mut bob = Client::connect(addr, "bob").await;
    bob.dial("b", "/public/alice").await;
    again.verto_event("verto.invite").await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_garbage_closes_only_that_socket() {
    let (addr, _media, _sig) = serve(SignalingConfig::default()).await;
    let mut bad = Client::open(addr).await;
    let r = bad.connect_with("forged", None).await;
    assert_eq!(r["error"]["code"], -32002);

    let mut good = Client::connect(addr, "alice").await;
    let mut noisy = Client::connect(addr, "bob").await;
    let r = noisy.call_raw("no.such.method", json!({})).await;
    assert_eq!(r["error"]["code"], -32601);
    for _ in 0..10 {
        noisy
            .ws
            .send(Message::Text("{not json".into()))
            .await
            .unwrap();
    }
    let closed = loop {
        match tokio::time::timeout(WAIT, noisy.ws.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(closed.unwrap().code), 1008);
    assert_eq!(good.call("subscriber.online", json!({})).await, json!({}));
}

#[tokio::test]
async fn server_pings_and_shutdown_disconnects() {
    let mut cfg = SignalingConfig::default();
    cfg.session.ping_interval = Duration::from_millis(100);
    let (addr, _media, sig) = serve(cfg).await;
    let mut alice = Client::connect(addr, "alice").await;
    let ping = loop {
        let v = alice.next().await;
        if v["method"] == "signalwire.ping" {
            break v;
        }
    };
    assert!(ping["params"]["timestamp"].as_f64().unwrap() > 1.0e9);
    sig.shutdown();
    loop {
        let v = alice.next().await;
        if v["method"] == "signalwire.disconnect" {
            alice
                .send(json!({"jsonrpc":"2.0","id":v["id"],"result":{}}))
                .await;
            break;
        }
    }
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match alice.ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "socket closed after the disconnect ack");
}

#[tokio::test]
async fn connect_result_has_exactly_the_spec_fields() {
    let (addr, _media, _sig) = serve(SignalingConfig::default()).await;
    let mut c = Client::open(addr).await;
    let r = c.connect_with("tok-carol", None).await["result"].clone();
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    let mut keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["authorization", "ice_servers", "identity", "protocol"]
    );
    assert_eq!(r["identity"], "carol@proj");
    assert_eq!(r["authorization"]["jti"], "jticarol");
    let protocol = r["protocol"].as_str().unwrap();
    assert_eq!(protocol.split('_').nth(1), Some("jticarol"));
    let fs: HashMap<String, Value> =
        serde_json::from_value(r["authorization"]["fabric_subscriber"].clone()).unwrap();
    let mut fk: Vec<&str> = fs.keys().map(String::as_str).collect();
    fk.sort();
    assert_eq!(
        fk,
        [
            "application_id",
            "expires_at",
            "project_id",
            "space_id",
            "subscriber_id",
            "version"
        ]
    );
}
