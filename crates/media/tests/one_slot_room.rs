//! Acceptance 1, second half: a room of three SDK-shaped (one audio, one video m-line) members gets
//! mix-minus audio and voice-activated video.

mod common;

use std::time::Duration;

use common::*;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{MediaEvent, MemberId};

/// Makes `loud` the loudest member and waits until everyone's video follows the rule: the others
/// see `loud`, `loud` sees `previous`.
fn switch_to(peers: &[TestPeer], loud: u32, previous: u32) {
    for p in peers {
        p.set_tone_amplitude(if p.tag() == loud { 0.5 } else { 0.05 });
    }
    for p in peers {
        let expected = if p.tag() == loud { previous } else { loud };
        assert!(
            wait_until(SETTLE, || video_origin(p) == Some(expected)),
            "peer {} sees {:?}, expected {expected}",
            p.tag(),
            video_origin(p)
        );
    }
}

/// Like `switch_to` when the previous speaker is unknown: `loud` then sees one of the others.
fn switch_to_first(peers: &[TestPeer], loud: u32) {
    for p in peers {
        p.set_tone_amplitude(if p.tag() == loud { 0.5 } else { 0.05 });
    }
    for p in peers {
        assert!(wait_until(SETTLE, || {
            let origin = video_origin(p);
            if p.tag() == loud {
                origin.is_some_and(|o| o != loud)
            } else {
                origin == Some(loud)
            }
        }));
    }
}

#[test]
fn one_slot_members_get_mix_minus_audio_and_voice_switched_video() {
    let h = Harness::new(1);
    let mut events = h.engine.events();
    let peers: Vec<TestPeer> = TONES
        .iter()
        .map(|(tag, f)| h.join(PeerSpec::sdk_tone(*tag, *f)))
        .collect();
    for p in &peers {
        p.set_tone_amplitude(0.1);
    }
    std::thread::sleep(Duration::from_millis(300));
    for p in &peers {
        p.clear_pcm();
    }
    assert_mix_minus(&peers);

    switch_to_first(&peers, 2);
    switch_to(&peers, 3, 2);
    switch_to(&peers, 1, 3);

    let mut speakers = Vec::new();
    let mut talking = 0;
    while let Ok(event) = events.try_recv() {
        match event {
            MediaEvent::ActiveSpeaker { member, .. } => speakers.push(member),
            MediaEvent::Talking { .. } => talking += 1,
            _ => {}
        }
    }
    assert!(talking > 0, "talking events");
    let expected: Vec<MemberId> = [2, 3, 1].into_iter().map(Harness::member).collect();
    assert!(
        speakers.ends_with(&expected),
        "active speakers {speakers:?}"
    );

    for p in &peers {
        let video = p.received(true);
        assert_eq!(video.len(), 1, "one video stream");
        let v = &video[0];
        assert_eq!(v.ssrcs.len(), 1, "one SSRC across switches");
        assert_eq!(v.missing(), 0, "sequence numbers continue across switches");
        assert_eq!(
            v.picture_id_jumps, 0,
            "picture ids continue across switches"
        );
        assert!(
            v.switches.len() >= 2,
            "peer {} switched {:?}",
            p.tag(),
            v.switches
        );
        assert!(
            v.switches.iter().all(|(_, keyframe)| *keyframe),
            "every switch starts on a keyframe: {:?}",
            v.switches
        );
    }
}
