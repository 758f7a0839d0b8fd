use std::f64::consts::TAU;

use super::*;
use crate::tone::dbfs_to_amplitude;

/// Appends `ms` of the DTMF pair of `digit` at `row_db`/`column_db` dBFS each.
fn key(out: &mut Vec<i16>, digit: char, ms: usize, row_db: f64, column_db: f64, rate: u32) {
    let (r, c) = (0..4)
        .flat_map(|r| (0..4).map(move |c| (r, c)))
        .find(|&(r, c)| KEYS[r][c] == digit)
        .unwrap();
    let (a, b) = (dbfs_to_amplitude(row_db), dbfs_to_amplitude(column_db));
    let n = rate as usize * ms / 1_000;
    let rate = f64::from(rate);
    out.extend((0..n).map(|i| {
        let t = i as f64 / rate;
        (a * (TAU * ROWS[r] * t).sin() + b * (TAU * COLUMNS[c] * t).sin()).round() as i16
    }));
}

fn pause(out: &mut Vec<i16>, ms: usize, rate: u32) {
    out.resize(out.len() + rate as usize * ms / 1_000, 0);
}

fn detect(samples: &[i16], rate: u32, frame: usize) -> String {
    let mut d = DtmfDetector::new(rate).unwrap();
    let mut found = String::new();
    for chunk in samples.chunks(frame) {
        d.process(chunk, |c| found.push(c));
    }
    found
}

/// Deterministic white noise of peak `amplitude`.
fn add_noise(samples: &mut [i16], amplitude: f64, mut seed: u64) {
    for s in samples.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let v = (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        *s = (f64::from(*s) + amplitude * v)
            .round()
            .clamp(-32_768.0, 32_767.0) as i16;
    }
}

const ALL: &str = "123A456B789C*0#D";

#[test]
fn every_key_at_8_and_48_khz_with_minimum_timing() {
    for rate in [8_000, 16_000, 48_000] {
        for offset_ms in [0, 3, 7, 11] {
            let mut x = Vec::new();
            pause(&mut x, offset_ms, rate);
            for d in ALL.chars() {
                key(&mut x, d, 40, -10.0, -10.0, rate);
                pause(&mut x, 40, rate);
            }
            assert_eq!(
                detect(&x, rate, rate as usize / 50),
                ALL,
                "{rate} Hz, offset {offset_ms}"
            );
        }
    }
}

#[test]
fn a_long_key_is_one_digit_and_repeats_are_separate() {
    let mut x = Vec::new();
    key(&mut x, '5', 1_000, -6.0, -6.0, 8_000);
    pause(&mut x, 60, 8_000);
    key(&mut x, '5', 80, -6.0, -6.0, 8_000);
    pause(&mut x, 60, 8_000);
    key(&mut x, '5', 80, -6.0, -6.0, 8_000);
    assert_eq!(detect(&x, 8_000, 160), "555");
}

#[test]
fn frame_size_does_not_matter() {
    let mut x = Vec::new();
    for d in "90#".chars() {
        key(&mut x, d, 60, -12.0, -10.0, 8_000);
        pause(&mut x, 60, 8_000);
    }
    for frame in [1, 80, 160, 1_000, x.len()] {
        assert_eq!(detect(&x, 8_000, frame), "90#", "frame {frame}");
    }
}

#[test]
fn survives_noise_20_db_down() {
    let mut x = Vec::new();
    for d in ALL.chars() {
        key(&mut x, d, 60, -12.0, -12.0, 8_000);
        pause(&mut x, 60, 8_000);
    }
    add_noise(&mut x, dbfs_to_amplitude(-32.0), 0x1234_5678_9abc_def0);
    assert_eq!(detect(&x, 8_000, 160), ALL);
}

#[test]
fn twist_limits() {
    let run = |row_db: f64, column_db: f64| {
        let mut x = Vec::new();
        key(&mut x, '8', 100, row_db, column_db, 8_000);
        detect(&x, 8_000, 160)
    };
    assert_eq!(run(-10.0, -16.0), "8", "row 6 dB above column");
    assert_eq!(run(-10.0, -20.0), "", "row 10 dB above column");
    assert_eq!(run(-13.0, -10.0), "8", "column 3 dB above row");
    assert_eq!(run(-16.0, -10.0), "", "column 6 dB above row");
}

#[test]
fn rejects_what_is_not_a_key() {
    // Too weak.
    let mut weak = Vec::new();
    key(&mut weak, '1', 200, -40.0, -40.0, 8_000);
    assert_eq!(detect(&weak, 8_000, 160), "");
    // One tone only.
    let single: Vec<i16> = (0..1_600)
        .map(|i| (8_000.0 * (TAU * 697.0 * f64::from(i) / 8_000.0).sin()) as i16)
        .collect();
    assert_eq!(detect(&single, 8_000, 160), "");
    // Too short (20 ms).
    let mut short = Vec::new();
    key(&mut short, '3', 20, -6.0, -6.0, 8_000);
    pause(&mut short, 100, 8_000);
    assert_eq!(detect(&short, 8_000, 160), "");
    // A key buried in loud noise carries too little of the energy.
    let mut noisy = Vec::new();
    key(&mut noisy, '4', 200, -20.0, -20.0, 8_000);
    add_noise(&mut noisy, dbfs_to_amplitude(-6.0), 42);
    assert_eq!(detect(&noisy, 8_000, 160), "");
    // A rich 700 Hz-based harmonic tone (speech-like) is not a key.
    let voice: Vec<i16> = (0..4_000)
        .map(|i| {
            let t = f64::from(i) / 8_000.0;
            (1..8)
                .map(|h| 3_000.0 / f64::from(h) * (TAU * 175.0 * f64::from(h) * t).sin())
                .sum::<f64>() as i16
        })
        .collect();
    assert_eq!(detect(&voice, 8_000, 160), "");
    assert!(DtmfDetector::new(0).is_err());
}
