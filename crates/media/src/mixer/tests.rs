//! The mixer's unit tests.

use opus_rs::OpusDecoder;

use super::*;
use crate::testkit::{ToneSource, tone_amplitude, tone_amplitude_at};

fn decode_all(packets: &[Arc<[u8]>]) -> Vec<f32> {
    let mut d = OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
    let mut pcm = Vec::new();
    let mut frame = vec![0.0; FRAME];
    for p in packets {
        let n = d.decode(p, FRAME, &mut frame).unwrap();
        pcm.extend_from_slice(&frame[..n]);
    }
    pcm
}

#[test]
fn each_speaker_hears_the_others_but_not_itself() {
    let mut mixer = Mixer::new().unwrap();
    let mut sources = [
        ToneSource::new(440.0, 0.3),
        ToneSource::new(660.0, 0.3),
        ToneSource::new(990.0, 0.3),
    ];
    let mut heard: HashMap<usize, Vec<Arc<[u8]>>> = HashMap::new();
    let mut out = Vec::new();
    for _ in 0..50 {
        for (m, s) in sources.iter_mut().enumerate() {
            mixer.push(m, RtpCodec::Opus, s.next_packet(), s.level());
        }
        out.clear();
        let listeners = [0, 1, 2, 9].map(|l| (l, RtpCodec::Opus));
        mixer.mix(&listeners, &mut out).unwrap();
        for f in &out {
            heard.entry(f.listener).or_default().push(f.payload.clone());
        }
    }
    let freqs = [440.0, 660.0, 990.0];
    for listener in [0usize, 1, 2] {
        let pcm = decode_all(&heard[&listener]);
        let pcm = &pcm[FRAME * 10..];
        for (m, f) in freqs.iter().enumerate() {
            let e = tone_amplitude(pcm, *f);
            if m == listener {
                assert!(e < 0.01, "listener {listener} hears itself: {e}");
            } else {
                assert!(e > 0.05, "listener {listener} misses {f} Hz: {e}");
            }
        }
    }
    let pcm = decode_all(&heard[&9]);
    for f in freqs {
        assert!(tone_amplitude(&pcm[FRAME * 10..], f) > 0.05);
    }
}

#[test]
fn a_speaker_whose_packet_is_late_keeps_its_own_stream() {
    // Four members, three mixed: when member 1's packet misses a frame (jitter), member 3
    // takes its place for that frame. Member 1 must still hear itself nowhere, which needs
    // its own encoder to carry on rather than a switch to the shared one and back.
    let mut mixer = Mixer::new().unwrap();
    let mut sources = [
        ToneSource::new(440.0, 0.3),
        ToneSource::new(660.0, 0.3),
        ToneSource::new(990.0, 0.3),
        ToneSource::new(1_500.0, 0.1),
    ];
    let mut heard = Vec::new();
    let mut out = Vec::new();
    let listeners = [0, 1, 2, 3].map(|l| (l, RtpCodec::Opus));
    for frame in 0..100 {
        for (m, s) in sources.iter_mut().enumerate() {
            let packet = s.next_packet();
            if m != 1 || frame % 7 != 3 {
                mixer.push(m, RtpCodec::Opus, packet, s.level());
            }
        }
        out.clear();
        mixer.mix(&listeners, &mut out).unwrap();
        let (Some(own), Some(shared)) = (
            out.iter().find(|f| f.listener == 1),
            out.iter().find(|f| f.listener == 3),
        ) else {
            continue; // the jitter buffers are still filling
        };
        if frame >= 10 {
            assert!(
                !Arc::ptr_eq(&own.payload, &shared.payload),
                "frame {frame}: member 1 got the shared encoder's stream"
            );
        }
        heard.push(own.payload.clone());
    }
    let pcm = decode_all(&heard);
    let own = tone_amplitude(&pcm[FRAME * 10..], 660.0);
    assert!(own < 0.01, "member 1 hears itself: {own}");
}

/// What each listener got in each mix interval (`None`: no frame), from the first frame on.
type Heard = HashMap<usize, Vec<Option<Arc<[u8]>>>>;

/// Runs `intervals` mix intervals of four tone members (440, 660, 990 and 1,320 Hz at 0.1) for
/// listeners 0–3 and 5 (who only listens); `silent(interval)` is the member that sends silence,
/// `None` when nobody sends at all.
fn run_tones(intervals: usize, silent: impl Fn(usize) -> Option<usize>) -> Heard {
    let mut mixer = Mixer::new().unwrap();
    let mut sources = [440.0, 660.0, 990.0, 1_320.0].map(|f| ToneSource::new(f, 0.1));
    let listeners = [0, 1, 2, 3, 5].map(|l| (l, RtpCodec::Opus));
    let mut heard: Heard = HashMap::new();
    let mut out = Vec::new();
    for interval in 0..intervals {
        let silent = silent(interval);
        for (m, s) in sources.iter_mut().enumerate() {
            s.set_amplitude(if silent == Some(m) { 0.0 } else { 0.1 });
            let packet = s.next_packet();
            if silent.is_some() {
                mixer.push(m, RtpCodec::Opus, packet, s.level());
            }
        }
        out.clear();
        mixer.mix(&listeners, &mut out).unwrap();
        for (listener, _) in listeners {
            let frame = out.iter().find(|f| f.listener == listener);
            let got = heard.entry(listener).or_default();
            if frame.is_some() || !got.is_empty() {
                got.push(frame.map(|f| f.payload.clone()));
            }
        }
    }
    heard
}

/// Asserts that each listener's decoder, which ran through every switch and concealed every
/// missing frame, decodes from the frame after each resync frame on exactly what a decoder
/// started at that resync frame decodes: it is where the new encoder expects it to be. Returns
/// the resync frames per listener.
fn assert_decoders_follow(heard: &Heard) -> HashMap<usize, Vec<usize>> {
    let mut resyncs: HashMap<usize, Vec<usize>> = HashMap::new();
    for (listener, frames) in heard {
        let mut continuous = OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
        let mut fresh: Option<OpusDecoder> = None;
        let (mut a, mut b) = (vec![0.0; FRAME], vec![0.0; FRAME]);
        for (i, frame) in frames.iter().enumerate() {
            // A missing frame is concealed, as a receiver's jitter buffer does.
            let packet = frame.as_deref().unwrap_or(&[]);
            continuous.decode(packet, FRAME, &mut a).unwrap();
            if is_celt_only(packet) {
                resyncs.entry(*listener).or_default().push(i);
                let mut d = OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
                d.decode(packet, FRAME, &mut b).unwrap();
                fresh = Some(d);
                continue;
            }
            let d = fresh
                .as_mut()
                .expect("every stream starts with a resync frame");
            d.decode(packet, FRAME, &mut b).unwrap();
            let off = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(
                off < 1e-6,
                "listener {listener}, frame {i}: decoder off by {off}"
            );
        }
    }
    resyncs
}

#[test]
fn every_listener_decoder_follows_its_encoder_exactly_across_switches() {
    // Three of the four members are mixed. Member 3 is silent first, then member 0 (so it moves
    // to the shared encode), then member 1 (and member 0 is back on an own encoder).
    let heard = run_tones(600, |i| match i {
        0..150 => Some(3),
        150..400 => Some(0),
        _ => Some(1),
    });
    let resyncs = assert_decoders_follow(&heard);
    // Member 0: own, shared, own again; member 1: own, then shared; member 3: shared, then own;
    // the listener: the shared encode's first frame, then when members 0 and 1 joined it.
    let counts: HashMap<usize, usize> = resyncs.iter().map(|(l, r)| (*l, r.len())).collect();
    assert_eq!(
        counts,
        HashMap::from([(0, 3), (1, 2), (2, 1), (3, 2), (5, 3)])
    );
    // Shared resync frames are heard by everyone on the shared encode, so they are rare, and
    // they are full-rate frames.
    assert!(
        resyncs[&5].windows(2).all(|w| w[1] - w[0] >= 50),
        "{resyncs:?}"
    );
    for &i in &resyncs[&5] {
        assert!(heard[&5][i].as_ref().is_some_and(|p| p.len() > 200));
    }
    // And still nobody hears themselves: member 0 over the last phase.
    let own: Vec<Arc<[u8]>> = heard[&0].iter().flatten().cloned().collect();
    let pcm = decode_all(&own);
    let own = tone_amplitude(&pcm[pcm.len() - 100 * FRAME..], 440.0);
    assert!(own < 0.01, "member 0 hears itself: {own}");
}

#[test]
fn after_a_silence_every_decoder_follows_its_encoder_exactly_again() {
    // Nobody sends for 200 ms. Receivers conceal the gap, and a decoder that concealed frames
    // its encoder never made stays off that encoder's for seconds on steady tones (measured:
    // 1e-3 to 5e-3 off, 4 s later), so every stream resyncs after the gap.
    let heard = run_tones(300, |i| (!(100..110).contains(&i)).then_some(3));
    for (listener, frames) in &heard {
        let gap = frames.iter().rposition(Option::is_none).expect("a gap");
        let after = frames[gap + 1..].iter().position(Option::is_some).unwrap() + gap + 1;
        let resync = frames[after].as_deref().is_some_and(is_celt_only);
        assert!(resync, "listener {listener}: no resync frame after the gap");
    }
    assert_decoders_follow(&heard);
}

/// 20 ms of a G.711 tone, continuing at sample `start`.
fn g711_tone(law: Law, freq: f32, start: usize) -> Arc<[u8]> {
    let pcm: Vec<f32> = (start..start + FRAME_8K)
        .map(|i| 0.3 * (std::f32::consts::TAU * freq * i as f32 / 8_000.0).sin())
        .collect();
    let mut bytes = vec![0u8; FRAME_8K];
    g711::encode(law, &pcm, &mut bytes);
    bytes.into()
}

#[test]
fn g711_legs_are_mixed_and_hear_their_mix_minus_in_g711() {
    let mut mixer = Mixer::new().unwrap();
    let mut opus = [ToneSource::new(440.0, 0.3), ToneSource::new(660.0, 0.3)];
    // Members 0 and 1 speak Opus, 2 is a µ-law leg; 9 and 10 only listen.
    let listeners = [
        (0, RtpCodec::Opus),
        (1, RtpCodec::Opus),
        (2, RtpCodec::Pcmu),
        (9, RtpCodec::Pcmu),
        (10, RtpCodec::Pcma),
    ];
    let mut heard: HashMap<usize, Vec<MixedFrame>> = HashMap::new();
    let mut out = Vec::new();
    for frame in 0..50 {
        for (m, s) in opus.iter_mut().enumerate() {
            mixer.push(m, RtpCodec::Opus, s.next_packet(), s.level());
        }
        mixer.push(
            2,
            RtpCodec::Pcmu,
            g711_tone(Law::Mu, 990.0, frame * FRAME_8K),
            13,
        );
        out.clear();
        mixer.mix(&listeners, &mut out).unwrap();
        // Nothing until the inputs' jitter buffers are primed, then every listener.
        assert!(out.is_empty() || out.len() == listeners.len());
        for f in out.drain(..) {
            heard.entry(f.listener).or_default().push(f);
        }
    }
    // The two G.711 listeners who are not speakers share one mix, each in its own law.
    assert_eq!(heard[&9][20].payload.len(), FRAME_8K);
    assert_eq!(heard[&9][20].codec, RtpCodec::Pcmu);
    assert_eq!(heard[&10][20].codec, RtpCodec::Pcma);
    let g711_pcm = |frames: &[MixedFrame]| {
        let mut pcm = vec![0.0; frames.len() * FRAME_8K];
        for (f, out) in frames.iter().zip(pcm.chunks_mut(FRAME_8K)) {
            g711::decode(f.codec.law().unwrap(), &f.payload, out);
        }
        pcm.split_off(10 * FRAME_8K)
    };
    let opus_pcm = |frames: &[MixedFrame]| {
        let packets: Vec<Arc<[u8]>> = frames.iter().map(|f| f.payload.clone()).collect();
        decode_all(&packets).split_off(10 * FRAME)
    };
    let leg = g711_pcm(&heard[&2]);
    assert!(tone_amplitude_at(&leg, 440.0, 8_000) > 0.1);
    assert!(tone_amplitude_at(&leg, 660.0, 8_000) > 0.1);
    let own = tone_amplitude_at(&leg, 990.0, 8_000);
    assert!(own < 0.01, "the leg hears itself: {own}");
    for listener in [9, 10] {
        let pcm = g711_pcm(&heard[&listener]);
        for f in [440.0, 660.0, 990.0] {
            let a = tone_amplitude_at(&pcm, f, 8_000);
            assert!(a > 0.1, "listener {listener} misses {f} Hz: {a}");
        }
    }
    let member = opus_pcm(&heard[&0]);
    let leg_heard = tone_amplitude(&member, 990.0);
    assert!(leg_heard > 0.1, "member 0 misses the leg: {leg_heard}");
    assert!(tone_amplitude(&member, 440.0) < 0.01);
}

#[test]
fn levels_follow_energy() {
    assert_eq!(dbov(0.0), 127);
    assert_eq!(dbov(1.0), 0);
    assert_eq!(dbov(0.001), 30);
}
