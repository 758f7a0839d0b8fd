//! Acceptance 1, second half: a room of three SDK-shaped (one audio, one video m-line) members gets
//! mix-minus audio and voice-activated video.

mod common;

use common::*;
use weft_media::{MediaEvent, MemberId};

#[test]
fn one_slot_members_get_mix_minus_audio_and_voice_switched_video() {
    let h = Harness::new(1);
    let mut events = h.engine.events();
    let peers = join_tone_members(&h);
    level_tones(&peers);
    assert_mix_minus(&peers);

    switch_speaker(&peers, 2, None);
    switch_speaker(&peers, 3, Some(2));
    switch_speaker(&peers, 1, Some(3));

    let mut speakers = Vec::new();
    let mut talking = 0;
    while let Some(event) = events.try_recv() {
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
        let v = assert_seamless_speaker_video(p);
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
    }
}
