//! A transcoded G.711 ↔ Opus leg: CPU per 20 ms frame in each direction, and per step.
//!
//! These are the steps of weft-media's per-slot transcoder (`transcode.rs`, crate-internal),
//! which runs where a G.711 plain-RTP leg and an Opus member hear each other directly (a 1:1
//! call), called here through the public `g711` and `resample` modules and opus-rs:
//!
//! - G.711 → Opus: µ-law → linear (table), 8 → 48 kHz (6× polyphase FIR), Opus encode;
//! - Opus → G.711: Opus decode, 48 → 8 kHz (FIR low-pass, every sixth sample), linear → µ-law.
//!
//! The Opus encoder has the settings of `mixer::opus_encoder` (48 kHz mono VoIP, 32 kbit/s,
//! complexity 5); other complexities can be given (libopus defaults to 10). The input is a
//! voice-like signal: a gliding 110–220 Hz fundamental with harmonics, a 4 Hz syllable envelope
//! and short pauses. Each output is decoded again and must keep the input's level.
//!
//! Run: `cargo bench -p weft-benches --bench transcode [-- COMPLEXITY...]`

use std::f32::consts::TAU;
use std::time::Duration;

use opus_rs::{Application, OpusDecoder, OpusEncoder};
use weft_benches::thread_cpu_time;
use weft_media::g711::{self, Law};
use weft_media::mixer::{FRAME, FRAME_8K, SAMPLE_RATE};
use weft_media::resample::{Downsampler, Upsampler};

/// Frames measured per repetition (10 s of audio).
const FRAMES: usize = 500;
const REPEATS: usize = 5;
const FRAME_TIME: Duration = Duration::from_millis(20);
/// Largest Opus packet.
const MAX_PACKET: usize = 1_275;
/// The transcoder's Opus bitrate and complexity (`mixer::opus_encoder`).
const BITRATE: i32 = 32_000;
const WEFT_COMPLEXITY: i32 = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut complexities: Vec<i32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if complexities.is_empty() {
        complexities = vec![WEFT_COMPLEXITY, 10];
    }
    let voice = Voice::frames();
    println!(
        "G.711 (µ-law) ↔ Opus (48 kHz mono VoIP, {} kbit/s), 20 ms frames, voice-like input, \
         µs of thread CPU per frame, best of {REPEATS} × {FRAMES} frames",
        BITRATE / 1000
    );
    for complexity in complexities {
        let r = bench(&voice, complexity);
        let to_opus = r.decode_g711 + r.upsample + r.encode_opus;
        let to_g711 = r.decode_opus + r.downsample + r.encode_g711;
        println!("\nOpus complexity {complexity}");
        println!(
            "  G.711 → Opus  (decode µ-law {:.2} + 8→48 kHz {:.2} + Opus encode {:.2})",
            us(r.decode_g711),
            us(r.upsample),
            us(r.encode_opus)
        );
        println!(
            "      steps {:>8.1} µs   pipeline {:>8.1} µs",
            us(to_opus),
            us(r.to_opus)
        );
        println!(
            "  Opus → G.711  (Opus decode {:.2} + 48→8 kHz {:.2} + encode µ-law {:.2})",
            us(r.decode_opus),
            us(r.downsample),
            us(r.encode_g711)
        );
        println!(
            "      steps {:>8.1} µs   pipeline {:>8.1} µs",
            us(to_g711),
            us(r.to_g711)
        );
        let both = r.to_opus + r.to_g711;
        println!(
            "  both ways     {:>8.1} µs per 20 ms = {:.2}% of a core; {:.0} transcoded legs per core",
            us(both),
            100.0 * both.as_secs_f64() / FRAME_TIME.as_secs_f64(),
            FRAME_TIME.as_secs_f64() / both.as_secs_f64()
        );
        println!(
            "  Opus payload {:.0} bytes per frame; level kept: G.711 → Opus {:.2}, Opus → G.711 {:.2} (output rms ÷ input rms)",
            r.opus_bytes, r.level_to_opus, r.level_to_g711
        );
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The input, prepared outside the timing: the voice as µ-law at 8 kHz (what a G.711 leg sends)
/// and as Opus at 48 kHz (what an Opus member sends), frame by frame.
struct Voice {
    ulaw: Vec<[u8; FRAME_8K]>,
    pcm48: Vec<Vec<f32>>,
    rms: f32,
}

impl Voice {
    /// `FRAMES` frames of a voice-like signal at 8 kHz and at 48 kHz.
    fn frames() -> Self {
        let sample = |t: f32| {
            // Syllables at 4 Hz, a pause every 1.5 s; the pitch glides between 110 and 220 Hz.
            let envelope = (0.5 - 0.5 * (TAU * 4.0 * t).cos()) * f32::from(t % 1.5 < 1.2);
            let f0 = 165.0 + 55.0 * (TAU * 0.3 * t).sin();
            let phase = TAU * (165.0 * t - 55.0 / (TAU * 0.3) * (TAU * 0.3 * t).cos());
            let voiced: f32 = (1..=8)
                .map(|h| (phase * h as f32).sin() / h as f32 * f32::from(f0 * (h as f32) < 3_400.0))
                .sum();
            0.25 * envelope * voiced
        };
        let ulaw = (0..FRAMES)
            .map(|f| {
                let pcm: Vec<f32> = (f * FRAME_8K..(f + 1) * FRAME_8K)
                    .map(|n| sample(n as f32 / 8_000.0))
                    .collect();
                let mut bytes = [0u8; FRAME_8K];
                g711::encode(Law::Mu, &pcm, &mut bytes);
                bytes
            })
            .collect();
        let pcm48: Vec<Vec<f32>> = (0..FRAMES)
            .map(|f| {
                (f * FRAME..(f + 1) * FRAME)
                    .map(|n| sample(n as f32 / SAMPLE_RATE as f32))
                    .collect()
            })
            .collect();
        let rms = rms(pcm48.iter().flatten().copied());
        Self { ulaw, pcm48, rms }
    }
}

fn rms(samples: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = samples.fold((0.0f64, 0usize), |(s, n), x| (s + f64::from(x * x), n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64).sqrt() as f32
    }
}

fn encoder(complexity: i32) -> OpusEncoder {
    let mut e = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip)
        .unwrap_or_else(|e| panic!("opus encoder: {e}"));
    e.bitrate_bps = BITRATE;
    e.complexity = complexity;
    e
}

fn decoder() -> OpusDecoder {
    OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap_or_else(|e| panic!("opus decoder: {e}"))
}

/// Best CPU time per frame of each step and of each direction's whole pipeline.
struct Run {
    decode_g711: Duration,
    upsample: Duration,
    encode_opus: Duration,
    decode_opus: Duration,
    downsample: Duration,
    encode_g711: Duration,
    to_opus: Duration,
    to_g711: Duration,
    opus_bytes: f64,
    level_to_opus: f32,
    level_to_g711: f32,
}

/// Runs `step` over every frame `REPEATS` times (fresh state from `setup` each time); the best
/// CPU time per frame, and the last repetition's state.
fn timed<S>(setup: impl Fn() -> S, mut step: impl FnMut(&mut S, usize)) -> (Duration, S) {
    let mut best = Duration::MAX;
    let mut state = setup();
    for repeat in 0..REPEATS {
        if repeat > 0 {
            state = setup();
        }
        let start = thread_cpu_time();
        for frame in 0..FRAMES {
            step(&mut state, frame);
        }
        best = best.min((thread_cpu_time() - start) / FRAMES as u32);
    }
    (best, state)
}

/// [`timed`], the time only.
fn best<S>(setup: impl Fn() -> S, step: impl FnMut(&mut S, usize)) -> Duration {
    timed(setup, step).0
}

/// The G.711 → Opus pipeline's state (the output kept for the level check).
struct ToOpus {
    up: Upsampler,
    enc: OpusEncoder,
    pcm8: Vec<f32>,
    pcm48: Vec<f32>,
    packet: Vec<u8>,
    out: Vec<Vec<u8>>,
}

/// The Opus → G.711 pipeline's state (the output kept for the level check).
struct ToG711 {
    dec: OpusDecoder,
    down: Downsampler,
    pcm48: Vec<f32>,
    pcm8: Vec<f32>,
    out: Vec<[u8; FRAME_8K]>,
}

fn bench(voice: &Voice, complexity: i32) -> Run {
    // Inputs of each step, made once by the step before it (outside the step's timing).
    let pcm8: Vec<Vec<f32>> = voice
        .ulaw
        .iter()
        .map(|bytes| {
            let mut pcm = vec![0.0; FRAME_8K];
            g711::decode(Law::Mu, bytes, &mut pcm);
            pcm
        })
        .collect();
    let mut up = Upsampler::default();
    let up48: Vec<Vec<f32>> = pcm8
        .iter()
        .map(|pcm| {
            let mut out = vec![0.0; FRAME];
            up.process(pcm, &mut out);
            out
        })
        .collect();
    let mut source = encoder(complexity);
    let mut packet = vec![0u8; MAX_PACKET];
    let opus_in: Vec<Vec<u8>> = voice
        .pcm48
        .iter()
        .map(|pcm| {
            let n = source
                .encode(pcm, FRAME, &mut packet)
                .unwrap_or_else(|e| panic!("opus encode: {e}"));
            packet[..n].to_vec()
        })
        .collect();
    let mut dec = decoder();
    let dec48: Vec<Vec<f32>> = opus_in
        .iter()
        .map(|p| {
            let mut pcm = vec![0.0; FRAME];
            let n = dec
                .decode(p, FRAME, &mut pcm)
                .unwrap_or_else(|e| panic!("opus decode: {e}"));
            assert_eq!(n, FRAME);
            pcm
        })
        .collect();
    let mut down = Downsampler::default();
    let down8: Vec<Vec<f32>> = dec48
        .iter()
        .map(|pcm| {
            let mut out = vec![0.0; FRAME_8K];
            down.process(pcm, &mut out);
            out
        })
        .collect();

    let mut pcm = vec![0.0f32; FRAME];
    let mut bytes = [0u8; FRAME_8K];
    let decode_g711 = best(
        || (),
        |_, f| g711::decode(Law::Mu, &voice.ulaw[f], &mut pcm[..FRAME_8K]),
    );
    let upsample = best(Upsampler::default, |u, f| u.process(&pcm8[f], &mut pcm));
    let encode_opus = best(
        || encoder(complexity),
        |e, f| {
            e.encode(&up48[f], FRAME, &mut packet)
                .unwrap_or_else(|e| panic!("opus encode: {e}"));
        },
    );
    let decode_opus = best(decoder, |d, f| {
        d.decode(&opus_in[f], FRAME, &mut pcm)
            .unwrap_or_else(|e| panic!("opus decode: {e}"));
    });
    let downsample = best(Downsampler::default, |d, f| {
        d.process(&dec48[f], &mut pcm[..FRAME_8K]);
    });
    let encode_g711 = best(|| (), |_, f| g711::encode(Law::Mu, &down8[f], &mut bytes));

    // The whole pipelines, as the transcoder runs them per packet; the last repetition's output
    // is kept for the level check.
    let (to_opus, opus_out) = timed(
        || ToOpus {
            up: Upsampler::default(),
            enc: encoder(complexity),
            pcm8: vec![0.0; FRAME_8K],
            pcm48: vec![0.0; FRAME],
            packet: vec![0; MAX_PACKET],
            out: Vec::with_capacity(FRAMES),
        },
        |s, f| {
            g711::decode(Law::Mu, &voice.ulaw[f], &mut s.pcm8);
            s.up.process(&s.pcm8, &mut s.pcm48);
            let n = s
                .enc
                .encode(&s.pcm48, FRAME, &mut s.packet)
                .unwrap_or_else(|e| panic!("opus encode: {e}"));
            s.out.push(s.packet[..n].to_vec());
        },
    );
    let opus_out = opus_out.out;
    let (to_g711, g711_out) = timed(
        || ToG711 {
            dec: decoder(),
            down: Downsampler::default(),
            pcm48: vec![0.0; FRAME],
            pcm8: vec![0.0; FRAME_8K],
            out: Vec::with_capacity(FRAMES),
        },
        |s, f| {
            s.dec
                .decode(&opus_in[f], FRAME, &mut s.pcm48)
                .unwrap_or_else(|e| panic!("opus decode: {e}"));
            s.down.process(&s.pcm48, &mut s.pcm8);
            let mut out = [0u8; FRAME_8K];
            g711::encode(Law::Mu, &s.pcm8, &mut out);
            s.out.push(out);
        },
    );
    let g711_out = g711_out.out;

    let level_to_opus = {
        let mut d = decoder();
        let mut all = Vec::with_capacity(FRAMES * FRAME);
        for p in &opus_out {
            let n = d
                .decode(p, FRAME, &mut pcm)
                .unwrap_or_else(|e| panic!("opus decode: {e}"));
            all.extend_from_slice(&pcm[..n]);
        }
        rms(all.into_iter()) / voice.rms
    };
    let level_to_g711 = {
        let mut all = vec![0.0f32; FRAMES * FRAME_8K];
        for (out, frame) in all.chunks_exact_mut(FRAME_8K).zip(&g711_out) {
            g711::decode(Law::Mu, frame, out);
        }
        rms(all.into_iter()) / voice.rms
    };
    for (direction, level) in [
        ("G.711 → Opus", level_to_opus),
        ("Opus → G.711", level_to_g711),
    ] {
        assert!(
            (0.7..1.3).contains(&level),
            "{direction} changed the level: output rms ÷ input rms = {level}"
        );
    }
    Run {
        decode_g711,
        upsample,
        encode_opus,
        decode_opus,
        downsample,
        encode_g711,
        to_opus,
        to_g711,
        opus_bytes: opus_out.iter().map(Vec::len).sum::<usize>() as f64
            / opus_out.len().max(1) as f64,
        level_to_opus,
        level_to_g711,
    }
}
