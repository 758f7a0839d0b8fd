//! The mix-minus mixer: CPU per 20 ms frame for rooms of one-slot members.
//!
//! Each member sends a distinct Opus tone (pre-encoded, untimed). Per frame the mixer decodes the
//! three loudest, sums, encodes once for the listeners who are not speakers and once per speaker.
//! With `g711`, member 0 is a µ-law plain-RTP leg instead (a G.711 tone in; its mix-minus
//! resampled to 8 kHz and encoded as G.711 out). With `rotate`, the three loud members change
//! every second (a lively meeting: speakers who fall quiet keep their own encoder until the
//! shared encode's next resync frame).
//!
//! Run: `cargo bench -p weft-benches --bench mixer [-- [g711] [rotate] MEMBERS...]`

use std::sync::Arc;
use std::time::Duration;

use weft_benches::thread_cpu_time;
use weft_media::RtpCodec;
use weft_media::g711::{self, Law};
use weft_media::mixer::{FRAME_8K, MixedFrame, Mixer};
use weft_media::testkit::ToneSource;

/// Frames measured per run (10 s of audio).
const FRAMES: usize = 500;
const REPEATS: usize = 3;
const FRAME_TIME: Duration = Duration::from_millis(20);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let leg = args.iter().any(|a| a == "g711");
    let rotate = args.iter().any(|a| a == "rotate");
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![3, 10, 50]
    } else {
        sizes
    };
    let shape = if leg {
        "member 0 a µ-law leg, the rest 48 kHz mono Opus"
    } else {
        "48 kHz mono Opus"
    };
    let speakers = if rotate {
        "the 3 loud members change every second"
    } else {
        "the same 3 loud members throughout"
    };
    println!("mixer, {shape}, 20 ms frames, 3 loudest mixed, {speakers}, best of {REPEATS}");
    println!(
        "{:>8} {:>14} {:>16} {:>14} {:>10} {:>14}",
        "members", "µs/frame", "µs/member/frame", "% of a core", "outputs", "encodes/frame"
    );
    for members in sizes {
        let run = bench(members, leg, rotate);
        let us = run.per_frame.as_secs_f64() * 1e6;
        println!(
            "{:>8} {:>14.0} {:>16.1} {:>13.1}% {:>10} {:>14.2}",
            members,
            us,
            us / members as f64,
            100.0 * run.per_frame.as_secs_f64() / FRAME_TIME.as_secs_f64(),
            run.outputs,
            run.encodes_per_frame
        );
    }
}

/// `FRAMES` µ-law packets of a tone whose amplitude in each frame is `amplitude(frame)`.
fn g711_tone(freq: f32, amplitude: impl Fn(usize) -> f32) -> Vec<(Arc<[u8]>, u8)> {
    (0..FRAMES)
        .map(|frame| {
            let a = amplitude(frame);
            let pcm: Vec<f32> = (frame * FRAME_8K..(frame + 1) * FRAME_8K)
                .map(|i| a * (std::f32::consts::TAU * freq * i as f32 / 8_000.0).sin())
                .collect();
            let mut bytes = vec![0u8; FRAME_8K];
            g711::encode(Law::Mu, &pcm, &mut bytes);
            (Arc::from(bytes), weft_media::mixer::dbov(a * a / 2.0))
        })
        .collect()
}

/// One room size's result.
struct Run {
    /// Best CPU time per frame.
    per_frame: Duration,
    /// Frames out per mix.
    outputs: usize,
    /// Distinct payloads (encodes) per mix, on average.
    encodes_per_frame: f64,
}

/// Whether `m` is one of the three loud members in `frame`.
fn loud(m: usize, frame: usize, members: usize, rotate: bool) -> bool {
    let first = if rotate { 3 * (frame / 50) } else { 0 };
    (0..3).any(|i| (first + i) % members == m)
}

fn bench(members: usize, leg: bool, rotate: bool) -> Run {
    let codec = |m: usize| {
        if leg && m == 0 {
            RtpCodec::Pcmu
        } else {
            RtpCodec::Opus
        }
    };
    let packets: Vec<Vec<(Arc<[u8]>, u8)>> = (0..members)
        .map(|m| {
            // Distinct tones; three of them loud.
            let amplitude = |frame| {
                if loud(m, frame, members, rotate) {
                    0.3
                } else {
                    0.05
                }
            };
            let freq = 300.0 + 70.0 * m as f32;
            if codec(m) == RtpCodec::Pcmu {
                return g711_tone(freq, amplitude);
            }
            let mut tone = ToneSource::new(freq, amplitude(0));
            (0..FRAMES)
                .map(|frame| {
                    tone.set_amplitude(amplitude(frame));
                    (tone.next_packet(), tone.level())
                })
                .collect()
        })
        .collect();
    let listeners: Vec<(usize, RtpCodec)> = (0..members).map(|m| (m, codec(m))).collect();
    let mut best = Duration::MAX;
    let mut outputs = 0;
    let mut encodes = 0;
    for _ in 0..REPEATS {
        let mut mixer = Mixer::new().expect("mixer");
        let mut out: Vec<MixedFrame> = Vec::with_capacity(members);
        let start = thread_cpu_time();
        for frame in 0..FRAMES {
            for (m, p) in packets.iter().enumerate() {
                let (payload, level) = &p[frame];
                mixer.push(m, codec(m), payload.clone(), *level);
            }
            out.clear();
            mixer.mix(&listeners, &mut out).expect("mix");
            outputs = out.len();
            encodes += distinct_payloads(&out);
        }
        best = best.min((thread_cpu_time() - start) / FRAMES as u32);
    }
    Run {
        per_frame: best,
        outputs,
        encodes_per_frame: encodes as f64 / (REPEATS * FRAMES) as f64,
    }
}

/// How many encodes made `frames` (listeners hearing the same mix share one payload).
fn distinct_payloads(frames: &[MixedFrame]) -> usize {
    let mut seen: Vec<*const u8> = frames.iter().map(|f| f.payload.as_ptr()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}
