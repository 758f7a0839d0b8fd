//! Signaling driving the real `weft-media` engine, with synthetic str0m peers as the clients'
//! WebRTC stacks: the SDP each side gets through the WebSocket must connect real media.

#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Client;
use serde_json::json;
use weft_calls::engine::forward_events;
use weft_media::sdp_sections;
use weft_media::testkit::{PeerSpec, TestPeer};
use weft_media::{MediaConfig, MediaEngine};
use weft_signaling::SignalingConfig;

async fn start() -> (std::net::SocketAddr, MediaEngine) {
    let engine = MediaEngine::start(MediaConfig::loopback(1)).expect("media engine");
    let (addr, _signaling, calls) =
        common::serve(SignalingConfig::default(), Arc::new(engine.clone())).await;
    tokio::spawn(forward_events(&engine, calls));
    (addr, engine)
}

/// Waits (without blocking the runtime) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn receives_from(peer: &TestPeer, tag: u32, video: bool) -> bool {
    peer.received(video)
        .iter()
        .any(|s| s.origins.contains(&tag))
}

async fn dial_with_peer(client: &mut Client, call_id: &str, to: &str, tag: u32) -> TestPeer {
    let (pending, offer) = TestPeer::offer(PeerSpec::sdk(tag)).expect("offer");
    let p = json!({"dialogParams":{"destination_number": to, "attach": false}, "sdp": offer});
    let reply = client.verto("verto.invite", call_id, p).await;
    assert_eq!(reply["code"], "200");
    let answer = client.verto_event("verto.answer").await;
    let sdp = answer["sdp"].as_str().expect("answer SDP");
    pending
        .connect(sdp)
        .expect("peer accepts the engine's answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_members_exchange_media() {
    let (addr, engine) = start().await;
    let mut alice = Client::connect(addr, "alice").await;
    let mut bob = Client::connect(addr, "bob").await;
    let peer_a = dial_with_peer(&mut alice, "a", "/public/lobby?channel=video", 1).await;
    alice.event_type("call.joined").await;
    let peer_b = dial_with_peer(&mut bob, "b", "/public/lobby?channel=video", 2).await;
    bob.event_type("call.joined").await;
    eventually("both peers connected", || {
        peer_a.is_connected() && peer_b.is_connected()
    })
    .await;
    eventually("alice gets bob's audio and video", || {
        receives_from(&peer_a, 2, false) && receives_from(&peer_a, 2, true)
    })
    .await;
    eventually("bob gets alice's audio and video", || {
        receives_from(&peer_b, 1, false) && receives_from(&peer_b, 1, true)
    })
    .await;
    bob.verto("verto.bye", "b", json!({})).await;
    alice.event_type("member.left").await;
    eventually("bob's member removed from the engine", || {
        engine.member_count() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_call_connects_media_both_ways() {
    let (addr, engine) = start().await;
    let mut alice = Client::connect(addr, "alice").await;
    alice.call("subscriber.online", json!({})).await;
    let mut bob = Client::connect(addr, "bob").await;
    let (pending, offer) = TestPeer::offer(PeerSpec::sdk(2)).expect("offer");
    let p =
        json!({"dialogParams":{"destination_number": "/public/alice?channel=video"}, "sdp": offer});
    bob.verto("verto.invite", "bob-call", p).await;
    let early = bob.verto_event("verto.media").await;
    let peer_b = pending
        .connect(early["sdp"].as_str().expect("early media SDP"))
        .expect("bob accepts the engine's answer");
    let invite = alice.verto_event("verto.invite").await;
    let inbound = invite["callID"].as_str().unwrap().to_owned();
    // The SDK cannot answer a BUNDLEd offer of two m-lines (spec §6.3): audio and video come on
    // a transport each, which Alice's browser answers with two ICE/DTLS transports.
    let offer = invite["sdp"].as_str().unwrap();
    assert!(
        !sdp_sections::is_bundled(offer),
        "no BUNDLE group:\n{offer}"
    );
    let sections = sdp_sections::split_sections(offer);
    assert_eq!(sections.len(), 2, "audio and video");
    let (peer_a, audio_answer) =
        TestPeer::answer(PeerSpec::sdk(1), &sections[0].1).expect("alice answers the audio");
    let (peer_a_video, video_answer) =
        TestPeer::answer(PeerSpec::sdk(3), &sections[1].1).expect("alice answers the video");
    let answer = sdp_sections::join_unbundled(&[audio_answer, video_answer]);
    alice
        .verto("verto.answer", &inbound, json!({"sdp": answer}))
        .await;
    alice.event_type("call.joined").await;
    bob.event_type("call.joined").await;
    eventually("both peers connected", || {
        peer_a.is_connected() && peer_a_video.is_connected() && peer_b.is_connected()
    })
    .await;
    eventually("audio and video flow both ways", || {
        receives_from(&peer_a, 2, false)
            && receives_from(&peer_a_video, 2, true)
            && receives_from(&peer_b, 1, false)
            && receives_from(&peer_b, 3, true)
    })
    .await;
    bob.verto("verto.bye", "bob-call", json!({})).await;
    let bye = alice.verto_event("verto.bye").await;
    assert_eq!(bye["cause"], "NORMAL_CLEARING");
    eventually("the call is gone from the engine", || {
        engine.member_count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_see_each_other_and_talking_events() {
    let (addr, _engine) = start().await;
    let mut clients = Vec::new();
    let mut peers = Vec::new();
    let mut members = Vec::new();
    for (i, who) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let mut c = Client::connect(addr, who).await;
        let call_id = format!("{who}-call");
        peers.push(
            dial_with_peer(
                &mut c,
                &call_id,
                "/public/lobby?channel=video",
                i as u32 + 1,
            )
            .await,
        );
        let joined = c.event_type("call.joined").await;
        members.push(joined["params"]["member_id"].as_str().unwrap().to_owned());
        clients.push(c);
    }
    eventually("all peers connected", || {
        peers.iter().all(TestPeer::is_connected)
    })
    .await;
    // Everyone saw the members who joined after them, and hears talking from the others.
    for (i, c) in clients.iter_mut().enumerate() {
        for later in &members[i + 1..] {
            c.event(|e| {
                e["event_type"] == "member.joined"
                    && e["params"]["member"]["member_id"] == later.as_str()
            })
            .await;
        }
        let me = members[i].clone();
        c.event(|e| {
            e["event_type"] == "member.talking"
                && e["params"]["member"]["talking"] == true
                && e["params"]["member"]["member_id"] != me.as_str()
        })
        .await;
    }
    // Carol mutes herself: the others get member.updated with audio_muted.
    let carol = json!({"member_id": members[2], "call_id": "carol-call", "node_id": "n"});
    let mute = json!({"channels": ["audio"], "self": carol, "target": carol});
    assert_eq!(clients[2].call("call.mute", mute).await["code"], "200");
    for c in &mut clients[..2] {
        let updated = c.event_type("member.updated").await;
        assert_eq!(updated["params"]["member"]["audio_muted"], true);
        assert_eq!(
            updated["params"]["member"]["member_id"],
            members[2].as_str()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_after_reload_reconnects_media() {
    let (addr, engine) = start().await;
    let mut alice = Client::connect(addr, "alice").await;
    let mut bob = Client::connect(addr, "bob").await;
    let peer_a = dial_with_peer(&mut alice, "a", "/public/lobby?channel=video", 1).await;
    let peer_b = dial_with_peer(&mut bob, "b", "/public/lobby?channel=video", 2).await;
    eventually("both connected", || {
        peer_a.is_connected() && peer_b.is_connected()
    })
    .await;
    // A page reload: the socket and the peer connection go away without a bye.
    let protocol = alice.protocol.clone();
    drop(alice);
    drop(peer_a);
    let mut again = Client::open(addr).await;
    let r = again.connect_with("tok-alice", Some(&protocol)).await;
    assert_eq!(r["result"]["protocol"], protocol.as_str());
    let (pending, offer) = TestPeer::offer(PeerSpec::sdk(3)).expect("offer");
    let p = json!({"dialogParams":{"destination_number": "/public/lobby?channel=video", "attach": true,
                   "reattaching": true}, "sdp": offer});
    again.verto("verto.invite", "a", p).await;
    let answer = again.verto_event("verto.answer").await;
    let peer_a2 = pending
        .connect(answer["sdp"].as_str().unwrap())
        .expect("the reloaded peer accepts the new answer");
    let joined = again.event_type("call.joined").await;
    assert_eq!(joined["params"]["call_id"], "a");
    eventually("the reloaded peer connects", || peer_a2.is_connected()).await;
    eventually("media flows again both ways", || {
        receives_from(&peer_a2, 2, false) && receives_from(&peer_b, 3, false)
    })
    .await;
    assert_eq!(engine.member_count(), 2);
}

#[test]
fn signaling_refuses_exactly_the_sdps_the_engine_would_refuse() {
    assert_eq!(
        SignalingConfig::default().session.max_sdp_sections,
        weft_media::MAX_OFFER_SECTIONS
    );
}
