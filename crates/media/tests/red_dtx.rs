//! Opus DTX and RED (RFC 2198) pass through the SFU: DTX silences reach multi-slot subscribers as
//! sent (no filling), RED reaches subscribers that negotiated it as RED and the others as its
//! primary Opus, and RED publishers are mixed for one-slot members.

mod common;

use std::time::Duration;

use common::{Harness, SETTLE};
use weft_media::testkit::{
    DTX_INTERVAL, PeerSpec, StreamReport, TestPeer, tone_presence, wait_until,
};

/// The stream a multi-slot peer receives from `tag`.
fn stream_from(peer: &TestPeer, tag: u32) -> Option<StreamReport> {
    peer.received(false)
        .into_iter()
        .find(|s| s.origins == vec![tag])
}

/// Audio-only multi-slot peer: its own audio plus one more receive slot.
fn audio_peer(tag: u32) -> PeerSpec {
    PeerSpec {
        video: false,
        ..PeerSpec::multi(tag, 1)
    }
}

#[test]
fn dtx_silences_reach_multi_slot_subscribers_unchanged() {
    let h = Harness::new(1);
    let publisher = h.join(PeerSpec {
        dtx: true,
        ..audio_peer(1)
    });
    let subscribers = [h.join(audio_peer(2)), h.join(audio_peer(3))];
    let dtx_step = (DTX_INTERVAL.as_millis() * 48) as u32;
    // Two speech/silence cycles (2 s each, two DTX steps per silence).
    for s in &subscribers {
        assert!(
            wait_until(SETTLE, || stream_from(s, 1).is_some_and(|r| r
                .timestamp_steps
                .get(&dtx_step)
                .copied()
                .unwrap_or(0)
                >= 4)),
            "peer {} sees no DTX: {:?}",
            s.tag(),
            stream_from(s, 1).map(|r| r.timestamp_steps)
        );
    }
    let sent = publisher.sent_audio();
    for s in &subscribers {
        let r = stream_from(s, 1).expect("stream");
        assert_eq!(r.missing(), 0, "sequence numbers continue through silences");
        assert_eq!(r.timestamp_regressions, 0);
        assert!(r.small_packets >= 6, "DTX packets arrive as sent");
        // Timestamps advance in whole frames, the longest step a DTX interval: nothing was
        // synthesised in the gaps, and nothing more arrived than was sent.
        assert!(
            r.timestamp_steps
                .keys()
                .all(|s| s % 960 == 0 && *s <= dtx_step),
            "steps {:?}",
            r.timestamp_steps
        );
        assert!(r.packets <= sent, "{} received, {sent} sent", r.packets);
    }
}

#[test]
fn red_goes_to_red_subscribers_and_its_primary_to_the_others() {
    let h = Harness::new(1);
    let red = |spec: PeerSpec| PeerSpec { red: true, ..spec };
    let _publisher = h.join(red(audio_peer(1)));
    let red_subscriber = h.join(red(audio_peer(2)));
    let plain_subscriber = h.join(audio_peer(3));
    for s in [&red_subscriber, &plain_subscriber] {
        assert!(
            wait_until(SETTLE, || stream_from(s, 1)
                .is_some_and(|r| r.packets >= 100)),
            "peer {} does not hear the RED publisher",
            s.tag()
        );
    }
    // str0m's default RED payload type is 63; Opus is 111.
    let r = stream_from(&red_subscriber, 1).expect("stream");
    assert_eq!(r.payload_types, vec![63], "RED to the RED subscriber");
    assert_eq!(r.missing(), 0);
    let r = stream_from(&plain_subscriber, 1).expect("stream");
    assert_eq!(
        r.payload_types,
        vec![111],
        "the primary Opus to the subscriber without RED"
    );
    assert_eq!(r.missing(), 0);
    // And the RED subscriber's own RED reaches the plain one unwrapped too.
    let r = stream_from(&plain_subscriber, 2).expect("stream");
    assert_eq!(r.payload_types, vec![111]);
}

#[test]
fn red_publishers_are_mixed_for_one_slot_members() {
    let h = Harness::new(1);
    let tones = [(1u32, 440.0f32), (2, 660.0), (3, 990.0)];
    let peers: Vec<TestPeer> = tones
        .iter()
        .map(|(tag, f)| {
            h.join(PeerSpec {
                red: *tag != 3,
                ..PeerSpec::sdk_tone(*tag, *f)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for p in &peers {
        p.clear_pcm();
    }
    for p in &peers {
        assert!(wait_until(SETTLE, || p.received_pcm().len() >= 72_000));
        let pcm = p.received_pcm();
        let tail = &pcm[pcm.len() - 48_000..];
        for (tag, f) in tones {
            let a = tone_presence(tail, f);
            if tag == p.tag() {
                assert!(a < 0.01, "peer {tag} hears itself: {a}");
            } else {
                assert!(a > 0.03, "peer {} misses {f} Hz: {a}", p.tag());
            }
        }
    }
}
