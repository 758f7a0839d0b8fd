//! Acceptance 2: simulcast layer selection follows the subscriber's bandwidth estimate; switches
//! start on a keyframe and keep sequence numbers and timestamps continuous. Layers nobody
//! receives are paused at the publisher.

mod common;

use std::time::Duration;

use common::*;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{EventReceiver, LayerPreference, MediaEvent, MemberId, VideoLayer};

fn layer(peer: &TestPeer) -> Option<u8> {
    video_from(peer, 1).and_then(|s| s.last_layer)
}

/// Caps `member`'s bitrate so that only the lowest layer fits and waits until `subscriber` (that
/// member's peer) receives it. Layers carry about 72, 168 and 264 kbit/s of payload: 110 kbit/s
/// only fits the lowest, with a margin either side for measurement jitter.
fn cap_to_the_lowest_layer(h: &Harness, member: &MemberId, subscriber: &TestPeer) {
    let capped = LayerPreference {
        max_layer: VideoLayer::High,
        max_bitrate_bps: Some(110_000),
    };
    h.rt.block_on(h.engine.set_layer_preference(member, capped))
        .expect("cap");
    assert!(
        wait_until(SETTLE, || layer(subscriber) == Some(0)),
        "got {:?}",
        layer(subscriber)
    );
}

#[test]
fn lowering_the_estimate_switches_to_a_lower_layer_on_a_keyframe() {
    let h = Harness::new(1);
    let _publisher = h.join(PeerSpec::simulcast(1));
    let subscriber = h.join(PeerSpec::multi(2, 0));
    let member = Harness::member(2);
    // Before layer bitrates are measured any layer may start; with a 2.5 Mbit/s estimate the
    // subscriber settles on the top one.
    assert!(
        wait_until(SETTLE, || layer(&subscriber) == Some(2)),
        "reaches the top layer, got {:?}",
        layer(&subscriber)
    );
    let switches_before = video_from(&subscriber, 1).map_or(0, |v| v.layer_switches.len());

    cap_to_the_lowest_layer(&h, &member, &subscriber);

    // Without the cap it climbs again (how far depends on the live TWCC estimate).
    h.rt.block_on(
        h.engine
            .set_layer_preference(&member, LayerPreference::default()),
    )
    .expect("uncap");
    assert!(
        wait_until(SETTLE, || layer(&subscriber) > Some(0)),
        "got {:?}",
        layer(&subscriber)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));

    let video = video_from(&subscriber, 1).expect("video");
    let after_cap: Vec<u8> = video.layer_switches[switches_before..]
        .iter()
        .map(|(l, _)| *l)
        .collect();
    assert!(
        after_cap.first().is_some_and(|l| *l < 2) && after_cap.contains(&0),
        "the cap switched down to the lowest layer: {after_cap:?}"
    );
    assert_seamless_layer_switches(&video);
    assert_eq!(video.picture_id_jumps, 0, "continuous picture ids");
}

#[test]
fn a_simulcast_publisher_receives_every_other_publisher_on_its_receive_slots() {
    // Its sendrecv video m-line carries its simulcast, so the server has no stream to send on
    // it; the room's other two videos go to its two receive-only slots.
    let h = Harness::new(1);
    let publisher = h.join(PeerSpec {
        simulcast: true,
        ..PeerSpec::multi(1, 2)
    });
    let _others: Vec<TestPeer> = (2..=3).map(|tag| h.join(PeerSpec::multi(tag, 2))).collect();
    assert!(
        wait_until(SETTLE, || origins(&publisher, true) == [2, 3]),
        "video from {:?}",
        origins(&publisher, true)
    );
    assert_eq!(origins(&publisher, false), [2, 3]);
}

/// Waits for the engine to say which layers of `member`'s video anyone receives, until `done`
/// accepts them; returns them.
fn wanted_layers(
    h: &Harness,
    events: &mut EventReceiver,
    member: &MemberId,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let found = h.rt.block_on(async {
        tokio::time::timeout(SETTLE, async {
            loop {
                match events.recv().await {
                    Some(MediaEvent::LayersWanted {
                        member: m, rids, ..
                    }) if &m == member => {
                        if done(&rids) {
                            return Some(rids);
                        }
                        seen.push(rids);
                    }
                    None => return None,
                    _ => {}
                }
            }
        })
        .await
    });
    found
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no such LayersWanted; saw {seen:?}"))
}

#[test]
fn layers_nobody_receives_are_paused_and_resumed_when_a_subscriber_needs_them() {
    let h = Harness::new(1);
    let mut events = h.engine.events();
    let publisher = h.join(PeerSpec::simulcast(1));
    let subscriber = h.join(PeerSpec::multi(2, 0));
    let (publishing, subscribing) = (Harness::member(1), Harness::member(2));
    assert!(
        wait_until(SETTLE, || layer(&subscriber) == Some(2)),
        "reaches the top layer, got {:?}",
        layer(&subscriber)
    );

    // Capped to the lowest layer, the subscriber is the only receiver and needs only "q"; the
    // publisher, acting on the event as an SFU-aware client does, stops the other two.
    cap_to_the_lowest_layer(&h, &subscribing, &subscriber);
    let rids = wanted_layers(&h, &mut events, &publishing, |r| r == ["q"]);
    let active: Vec<&str> = rids.iter().map(String::as_str).collect();
    publisher.set_active_layers(&active);
    std::thread::sleep(Duration::from_millis(200));
    let (sent, received) = (
        publisher.sent_per_layer(),
        packets_from(&subscriber, 1, true),
    );
    std::thread::sleep(Duration::from_millis(600));
    let (sent_after, received_after) = (
        publisher.sent_per_layer(),
        packets_from(&subscriber, 1, true),
    );
    assert_eq!(
        (sent_after[1], sent_after[2]),
        (sent[1], sent[2]),
        "the upper layers are paused"
    );
    assert!(sent_after[0] > sent[0], "the lowest layer still flows");
    assert!(
        received_after > received,
        "the subscriber still sees the publisher"
    );

    // Uncapped, the subscriber can take more again: the paused layers kept their bitrates, so it
    // chooses one, which is resumed and switched to on its first keyframe.
    h.rt.block_on(
        h.engine
            .set_layer_preference(&subscribing, LayerPreference::default()),
    )
    .expect("uncap");
    let rids = wanted_layers(&h, &mut events, &publishing, |r| r.len() > 1);
    let active: Vec<&str> = rids.iter().map(String::as_str).collect();
    publisher.set_active_layers(&active);
    assert!(
        wait_until(SETTLE, || layer(&subscriber) > Some(0)),
        "climbs again after the resume, got {:?}",
        layer(&subscriber)
    );
    std::thread::sleep(Duration::from_millis(300));
    let video = video_from(&subscriber, 1).expect("video");
    assert_seamless_layer_switches(&video);
    assert_eq!(video.picture_id_jumps, 0, "continuous picture ids");

    // Nobody receives the video any more: every layer may pause.
    h.remove(2);
    wanted_layers(&h, &mut events, &publishing, <[String]>::is_empty);
}
