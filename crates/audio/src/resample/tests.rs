use std::f64::consts::TAU;

use super::*;
use crate::goertzel::Goertzel;

fn sine(freq: f64, amplitude: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (amplitude * (TAU * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// Sign changes from negative to non-negative.
fn rising_zero_crossings(x: &[i16]) -> usize {
    x.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count()
}

/// The middle of `x`, away from the filter's start and end transients.
fn middle(x: &[i16]) -> &[i16] {
    &x[x.len() / 4..3 * x.len() / 4]
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn assert_keeps_700_hz(from: u32, to: u32) {
    let input = Pcm {
        rate: from,
        samples: sine(700.0, 16_000.0, from, from as usize),
    };
    let out = resample(&input, to).unwrap();
    assert_eq!(out.rate, to);
    assert_eq!(
        out.samples.len() as u64,
        (u64::from(from) * u64::from(to)).div_ceil(u64::from(from))
    );
    // One second: 700 rising zero crossings (±1 at the edges).
    let crossings = rising_zero_crossings(&out.samples);
    assert!(
        (699..=701).contains(&crossings),
        "{from}->{to}: {crossings}"
    );
    let m = middle(&out.samples);
    let at = Goertzel::new(700.0, to).amplitude(m);
    assert!(
        (at - 16_000.0).abs() < 16_000.0 * 0.01,
        "{from}->{to}: {at}"
    );
    for other in [500.0, 900.0, 1_400.0] {
        let leak = Goertzel::new(other, to).amplitude(m);
        assert!(leak < 40.0, "{from}->{to}: {other} Hz at {leak}");
    }
}

#[test]
fn keeps_a_700_hz_tone_from_44_1_to_48_khz() {
    assert_keeps_700_hz(44_100, 48_000);
}

#[test]
fn keeps_a_700_hz_tone_from_48_to_8_khz() {
    assert_keeps_700_hz(48_000, 8_000);
}

#[test]
fn keeps_a_700_hz_tone_from_8_to_48_khz() {
    assert_keeps_700_hz(8_000, 48_000);
}

#[test]
fn keeps_a_700_hz_tone_between_rates_without_a_small_ratio() {
    // gcd 1: 8000 phases, so the interpolated table is used.
    assert_keeps_700_hz(44_101, 8_000);
    assert_keeps_700_hz(22_050, 8_000);
}

#[test]
fn attenuates_what_the_lower_rate_cannot_carry() {
    for (freq, max_db) in [
        (3_900.0, -20.0),
        (4_100.0, -60.0),
        (4_500.0, -60.0),
        (6_100.0, -60.0),
        (11_000.0, -60.0),
    ] {
        let input = Pcm {
            rate: 48_000,
            samples: sine(freq, 16_000.0, 48_000, 48_000),
        };
        let out = resample(&input, 8_000).unwrap();
        let level = rms(middle(&out.samples)) / (16_000.0 / 2f64.sqrt());
        let db = 20.0 * level.max(1e-12).log10();
        assert!(db < max_db, "{freq} Hz: {db:.1} dB");
    }
    // The passband is flat.
    for freq in [300.0, 1_000.0, 3_000.0] {
        let input = Pcm {
            rate: 48_000,
            samples: sine(freq, 16_000.0, 48_000, 48_000),
        };
        let out = resample(&input, 8_000).unwrap();
        let level = rms(middle(&out.samples)) / (16_000.0 / 2f64.sqrt());
        let db = 20.0 * level.log10();
        assert!(db.abs() < 0.1, "{freq} Hz: {db:.2} dB");
    }
}

#[test]
fn upsampling_adds_no_images() {
    let input = Pcm {
        rate: 8_000,
        samples: sine(1_000.0, 16_000.0, 8_000, 8_000),
    };
    let out = resample(&input, 48_000).unwrap();
    let m = middle(&out.samples);
    // The first image of 1 kHz at 8 kHz is at 7 kHz.
    let image = Goertzel::new(7_000.0, 48_000).amplitude(m);
    assert!(image < 16.0, "{image}");
}

#[test]
fn streaming_in_frames_matches_one_pass() {
    let input = sine(700.0, 12_000.0, 44_100, 44_100);
    let whole = resample(
        &Pcm {
            rate: 44_100,
            samples: input.clone(),
        },
        48_000,
    )
    .unwrap();

    let mut r = Resampler::new(44_100, 48_000).unwrap();
    let mut frame = [0i16; 960];
    let mut streamed = Vec::new();
    for chunk in input.chunks(882) {
        let n = r.process(chunk, &mut frame);
        streamed.extend_from_slice(&frame[..n]);
    }
    loop {
        let n = r.flush(&mut frame);
        streamed.extend_from_slice(&frame[..n]);
        if n < frame.len() {
            break;
        }
    }
    assert_eq!(streamed, whole.samples);
}

#[test]
fn steady_frames_produce_whole_frames_without_growing() {
    let mut r = Resampler::new(48_000, 8_000).unwrap();
    let input = sine(700.0, 12_000.0, 48_000, 960);
    let mut out = [0i16; 160];
    r.process(&input, &mut out);
    let capacity = r.history.capacity();
    for _ in 0..200 {
        assert_eq!(r.output_len(960), 160);
        assert_eq!(r.process(&input, &mut out), 160);
    }
    assert_eq!(r.history.capacity(), capacity);
}

#[test]
fn output_that_does_not_fit_waits_for_the_next_call() {
    let input = sine(700.0, 12_000.0, 8_000, 800);
    let mut r = Resampler::new(8_000, 48_000).unwrap();
    let mut small = [0i16; 100];
    let mut got = Vec::new();
    let n = r.process(&input, &mut small);
    got.extend_from_slice(&small[..n]);
    loop {
        let n = r.process(&[], &mut small);
        got.extend_from_slice(&small[..n]);
        if n == 0 {
            break;
        }
    }
    loop {
        let n = r.flush(&mut small);
        got.extend_from_slice(&small[..n]);
        if n == 0 {
            break;
        }
    }
    let whole = resample(
        &Pcm {
            rate: 8_000,
            samples: input,
        },
        48_000,
    )
    .unwrap();
    assert_eq!(got, whole.samples);
}

#[test]
fn same_rate_is_a_copy_and_bad_rates_are_refused() {
    let pcm = Pcm {
        rate: 8_000,
        samples: vec![1, 2, 3],
    };
    assert_eq!(resample(&pcm, 8_000).unwrap(), pcm);
    assert!(matches!(
        resample(&pcm, 0),
        Err(AudioError::InvalidParameter(_))
    ));
    assert!(Resampler::new(8_000, 10_000_000).is_err());
}

#[test]
fn empty_input_gives_empty_output() {
    let pcm = Pcm {
        rate: 44_100,
        samples: Vec::new(),
    };
    assert!(resample(&pcm, 48_000).unwrap().samples.is_empty());
}
