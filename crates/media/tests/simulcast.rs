//! Acceptance 2: simulcast layer selection follows the subscriber's bandwidth estimate; switches
//! start on a keyframe and keep sequence numbers and timestamps continuous.

mod common;

use common::*;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{LayerPreference, VideoLayer};

fn layer(peer: &TestPeer) -> Option<u8> {
    video_from(peer, 1).and_then(|s| s.last_layer)
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

    // Layers carry about 72, 168 and 264 kbit/s of payload: 110 kbit/s only fits the lowest,
    // with a margin either side for measurement jitter.
    let capped = LayerPreference {
        max_layer: VideoLayer::High,
        max_bitrate_bps: Some(110_000),
    };
    h.rt.block_on(h.engine.set_layer_preference(&member, capped))
        .expect("cap");
    assert!(
        wait_until(SETTLE, || layer(&subscriber) == Some(0)),
        "got {:?}",
        layer(&subscriber)
    );

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
