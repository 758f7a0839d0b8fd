//! The shell over real WebSockets on loopback, with fake directory and media engines.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
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

    async fn move_member(&self, member: &str, to: &str) -> Result<(), MediaFailure> {
        self.log(format!("move {member} {to}"));
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

/// Largest payload of one frame the server sends (its fragment size).
const FRAGMENT_BYTES: usize = 4 * 1024;
/// Opcodes of data frames (RFC 6455 §5.2).
const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;

/// Reads an HTTP response head (up to the blank line, not beyond) from `tcp`.
async fn response_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(WAIT, tcp.read_u8())
            .await
            .expect("response in time")
            .expect("response head");
        head.push(byte);
    }
    String::from_utf8(head).unwrap()
}

/// The status code the server answers `request` with.
async fn status(addr: std::net::SocketAddr, request: &str) -> u16 {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = response_head(&mut tcp).await;
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A WebSocket client on a bare TCP stream, to see the server's frames as they are on the wire.
struct RawSocket {
    tcp: TcpStream,
}

/// One frame as received: opcode, FIN bit, payload.
type RawFrame = (u8, bool, Vec<u8>);

impl RawSocket {
    /// Opens the socket with the handshake of RFC 6455 §1.3, checking the server's accept key.
    async fn open(addr: std::net::SocketAddr) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = "GET / HTTP/1.1\r\nHost: relay.test\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";
        tcp.write_all(request.as_bytes()).await.unwrap();
        let head = response_head(&mut tcp).await.to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101 "), "{head}");
        assert!(
            head.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
            "{head}"
        );
        Self { tcp }
    }

    /// Sends `v` as one masked text frame.
    async fn send(&mut self, v: Value) {
        let mut frame = Frame::message(v.to_string(), OpCode::Data(Data::Text), true);
        frame.header_mut().mask = Some([0x37, 0xfa, 0x21, 0x3d]);
        let mut wire = Vec::new();
        frame.format(&mut wire).unwrap();
        self.tcp.write_all(&wire).await.unwrap();
    }

    /// Reads one frame.
    async fn frame(&mut self) -> RawFrame {
        let read = async {
            let [first, second] = [self.tcp.read_u8().await?, self.tcp.read_u8().await?];
            assert_eq!(second & 0x80, 0, "server frames are not masked");
            let len = match second & 0x7f {
                126 => usize::from(self.tcp.read_u16().await?),
                127 => usize::try_from(self.tcp.read_u64().await?).unwrap(),
                len => usize::from(len),
            };
            let mut payload = vec![0; len];
            self.tcp.read_exact(&mut payload).await?;
            std::io::Result::Ok((first & 0x0f, first & 0x80 != 0, payload))
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("frame in time")
            .expect("frame")
    }

    /// The frames of the next message whose JSON has `id`, and that JSON.
    async fn message(&mut self, id: &str) -> (Vec<RawFrame>, Value) {
        loop {
            let mut frames = vec![self.frame().await];
            while !frames.last().unwrap().1 {
                frames.push(self.frame().await);
            }
            let whole: Vec<u8> = frames.iter().flat_map(|f| f.2.clone()).collect();
            let v: Value = serde_json::from_slice(&whole).unwrap();
            if v["id"] == id {
                return (frames, v);
            }
        }
    }
}

#[tokio::test]
async fn long_messages_go_out_in_fragments_and_arrive_whole() {
    let mut cfg = SignalingConfig::default();
    // 100 KB of 1- to 4-byte characters: a naive split at every 4 KiB would cut characters.
    let long = "a€é😀".repeat(10_000);
    let ice = json!([{"urls": ["turn:127.0.0.1:3478"], "username": long, "credential": "c"}]);
    cfg.session.ice_servers = ice.clone();
    let (addr, _media, _sig) = serve(cfg).await;

    let mut client = Client::open(addr).await;
    let r = client.connect_with("tok-alice", None).await;
    assert_eq!(r["result"]["ice_servers"], ice, "one whole text message");

    let mut raw = RawSocket::open(addr).await;
    let connect = json!({"version":{"major":4,"minor":0,"revision":0},"event_acks":true,
        "agent":"@signalwire/js/browser/3.30.0","authentication":{"jwt_token":"tok-bob"}});
    raw.send(json!({"jsonrpc":"2.0","id":"c1","method":"signalwire.connect","params":connect}))
        .await;
    let (frames, reply) = raw.message("c1").await;
    assert_eq!(reply["result"]["ice_servers"], ice);
    assert!(frames.len() > 100_000 / FRAGMENT_BYTES, "{}", frames.len());
    for (i, (opcode, fin, payload)) in frames.iter().enumerate() {
        let expected = if i == 0 { TEXT } else { CONTINUATION };
        assert_eq!(*opcode, expected, "frame {i}");
        assert_eq!(*fin, i == frames.len() - 1, "frame {i}");
        assert!(
            payload.len() <= FRAGMENT_BYTES,
            "frame {i}: {}",
            payload.len()
        );
        assert!(
            std::str::from_utf8(payload).is_ok(),
            "frame {i} holds whole characters"
        );
    }

    raw.send(json!({"jsonrpc":"2.0","id":"m1","method":"no.such.method","params":{}}))
        .await;
    let (frames, reply) = raw.message("m1").await;
    assert_eq!(reply["error"]["code"], -32601);
    assert_eq!(frames.len(), 1, "a short message is one frame");
    assert_eq!((frames[0].0, frames[0].1), (TEXT, true));
}

#[tokio::test]
async fn requests_that_are_not_websocket_handshakes_are_refused() {
    let (addr, _media, _sig) = serve(SignalingConfig::default()).await;
    let plain = "GET / HTTP/1.1\r\nHost: relay.test\r\n\r\n";
    assert_eq!(status(addr, plain).await, 400);
    let handshake = "Host: relay.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let post = format!("POST / HTTP/1.1\r\nContent-Length: 0\r\n{handshake}\r\n");
    assert_eq!(status(addr, &post).await, 405);
    let old_http = format!("GET / HTTP/1.0\r\n{handshake}\r\n");
    assert_eq!(status(addr, &old_http).await, 426);
    let old_ws = format!("GET / HTTP/1.1\r\n{}\r\n", handshake.replace(": 13", ": 8"));
    assert_eq!(status(addr, &old_ws).await, 400);
}

#[tokio::test]
async fn frames_larger_than_the_read_buffer_are_read_up_to_the_limit() {
    let mut cfg = SignalingConfig::default();
    cfg.session.max_frame_bytes = 32 * 1024;
    let (addr, _media, _sig) = serve(cfg).await;
    let mut alice = Client::connect(addr, "alice").await;

    // An SDP offer of 15 KB, as a browser's with many codecs and candidates, in one frame.
    let mut sdp = String::from("v=0\r\nm=audio 9 UDP 111\r\nm=video 9 UDP 96\r\n");
    while sdp.len() < 15_000 {
        sdp.push_str("a=x-padding:0123456789abcdef0123456789abcdef\r\n");
    }
    let invite = json!({"dialogParams":{"destination_number":"/public/lobby?channel=video",
                                        "attach":false},"sdp":sdp});
    let reply = alice.verto("verto.invite", "call-a", invite).await;
    assert_eq!(reply["code"], "200");
    alice.verto_event("verto.answer").await;

    let pad = "x".repeat(31 * 1024);
    let r = alice.call_raw("no.such.method", json!({"pad": pad})).await;
    assert_eq!(
        r["error"]["code"], -32601,
        "a frame just under the limit is read"
    );

    let over = json!({"jsonrpc":"2.0","id":"big","method":"no.such.method",
                      "params":{"pad":"x".repeat(33 * 1024)}});
    // The server may drop the socket before the client has written it all.
    let _ = alice.ws.send(Message::Text(over.to_string().into())).await;
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match alice.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    assert!(
                        !text.contains("\"big\""),
                        "an oversized frame is not answered"
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "a frame over the limit ends the socket");
}
