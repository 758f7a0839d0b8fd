use std::f64::consts::TAU;
use std::time::Duration;

use super::*;
use crate::g711::{self, Law};
use crate::goertzel::Goertzel;

const MP3: &[u8] = include_bytes!("../../tests/fixtures/tone700.mp3");
const FLAC: &[u8] = include_bytes!("../../tests/fixtures/tone700.flac");
const OPUS: &[u8] = include_bytes!("../../tests/fixtures/tone700.opus");

/// A 700 Hz sine at -6 dBFS (the fixtures' level), as floats of full scale 1.0.
fn sine(rate: u32, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 * (TAU * 700.0 * i as f64 / f64::from(rate)).sin())
        .collect()
}

/// A WAV file with one `fmt ` chunk of `format` and `data`.
fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if format != 1 {
        fmt.extend_from_slice(&0u16.to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    if format != 1 {
        let frames = data.len() / usize::from(block);
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&(frames as u32).to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

/// Makes a WAV file claim `data_len` bytes of samples (as a cut-off download does).
fn claim_data_len(file: &mut [u8], actual: usize, data_len: u32) {
    let at = file.len() - actual - 4;
    file[at..at + 4].copy_from_slice(&data_len.to_le_bytes());
    let riff = (at + 4 - 8) as u32 + data_len;
    file[4..8].copy_from_slice(&riff.to_le_bytes());
}

/// Checks that `pcm` is a 700 Hz tone at about -6 dBFS, `expected_len` ± `slack` samples long.
fn assert_tone(pcm: &Pcm, rate: u32, expected_len: usize, slack: usize, what: &str) {
    assert_eq!(pcm.rate, rate, "{what}");
    let len = pcm.samples.len();
    assert!(
        len.abs_diff(expected_len) <= slack,
        "{what}: {len} samples, expected {expected_len}"
    );
    let mid = &pcm.samples[len / 4..3 * len / 4];
    let at = Goertzel::new(700.0, rate).amplitude(mid);
    assert!(
        (at - 16_384.0).abs() < 16_384.0 * 0.1,
        "{what}: 700 Hz at {at}"
    );
    for other in [400.0, 1_000.0, 1_400.0] {
        let leak = Goertzel::new(other, rate).amplitude(mid);
        assert!(leak < 16_384.0 * 0.02, "{what}: {other} Hz at {leak}");
    }
}

#[test]
fn wav_in_every_pcm_layout() {
    let rate = 8_000;
    let x = sine(rate, 4_000);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let u8_data: Vec<u8> = x
        .iter()
        .map(|v| (128.0 + v * 128.0).round() as u8)
        .collect();
    cases.push(("u8", wav(1, 1, rate, 8, &u8_data)));
    let s16: Vec<u8> = x
        .iter()
        .flat_map(|v| ((v * 32_768.0).round() as i16).to_le_bytes())
        .collect();
    cases.push(("s16", wav(1, 1, rate, 16, &s16)));
    let s24: Vec<u8> = x
        .iter()
        .flat_map(|v| {
            let b = ((v * 8_388_608.0).round() as i32).to_le_bytes();
            [b[0], b[1], b[2]]
        })
        .collect();
    cases.push(("s24", wav(1, 1, rate, 24, &s24)));
    let s32: Vec<u8> = x
        .iter()
        .flat_map(|v| ((v * 2_147_483_648.0).round() as i32).to_le_bytes())
        .collect();
    cases.push(("s32", wav(1, 1, rate, 32, &s32)));
    let f32_data: Vec<u8> = x.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
    cases.push(("f32", wav(3, 1, rate, 32, &f32_data)));
    let f64_data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    cases.push(("f64", wav(3, 1, rate, 64, &f64_data)));
    for (name, law, tag) in [("mulaw", Law::Mu, 7), ("alaw", Law::A, 6)] {
        let data: Vec<u8> = x
            .iter()
            .map(|v| g711::from_linear(law, (v * 32_768.0).round() as i16))
            .collect();
        cases.push((name, wav(tag, 1, rate, 8, &data)));
    }
    let stereo: Vec<u8> = x
        .iter()
        .flat_map(|v| {
            let l = ((v * 32_768.0).round() as i16).to_le_bytes();
            [l[0], l[1], l[0], l[1]]
        })
        .collect();
    cases.push(("stereo", wav(1, 2, rate, 16, &stereo)));
    for (name, bytes) in cases {
        let pcm = decode(&bytes, Some("wav")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_tone(&pcm, rate, 4_000, 0, name);
    }
}

#[test]
fn g711_wav_decodes_to_the_g711_values() {
    let codes: Vec<u8> = (0..=255u8).collect();
    for (law, tag) in [(Law::Mu, 7), (Law::A, 6)] {
        let pcm = decode(&wav(tag, 1, 8_000, 8, &codes), None).unwrap();
        let expected: Vec<i16> = codes.iter().map(|&c| g711::to_linear(law, c)).collect();
        assert_eq!(pcm.samples, expected, "{law:?}");
    }
}

#[test]
fn mp3_flac_and_ogg_opus_fixtures() {
    // 0.5 s at 22.05 kHz, mono, LAME (its encoder delay trimmed by the LAME tag).
    let mp3 = decode(MP3, Some("audio/mpeg")).unwrap();
    assert_tone(&mp3, 22_050, 11_025, 0, "mp3");
    // 0.25 s at 8 kHz, stereo, downmixed.
    let flac = decode(FLAC, Some(".flac")).unwrap();
    assert_tone(&flac, 8_000, 2_000, 0, "flac");
    // 0.5 s from a 48 kHz source, opusenc (pre-skip 312 and end trimming applied).
    let opus = decode(OPUS, Some("opus")).unwrap();
    assert_tone(&opus, 48_000, 24_000, 0, "opus");
}

#[test]
fn decodes_to_a_requested_rate() {
    let options = DecodeOptions {
        rate: Some(8_000),
        ..DecodeOptions::default()
    };
    let mp3 = decode_with(MP3, None, &options).unwrap();
    assert_tone(&mp3, 8_000, 4_000, 0, "mp3 at 8 kHz");
    let opus = decode_with(OPUS, None, &options).unwrap();
    assert_tone(&opus, 8_000, 4_000, 0, "opus at 8 kHz");
    let options = DecodeOptions {
        rate: Some(48_000),
        ..DecodeOptions::default()
    };
    let flac = decode_with(FLAC, None, &options).unwrap();
    assert_tone(&flac, 48_000, 12_000, 0, "flac at 48 kHz");
}

#[test]
fn the_hint_does_not_decide_the_format() {
    let pcm = decode(FLAC, Some("mp3")).unwrap();
    assert_eq!(pcm.samples.len(), 2_000);
    assert_eq!(
        decode(OPUS, Some("audio/ogg; codecs=opus"))
            .unwrap()
            .samples
            .len(),
        24_000
    );
}

#[test]
fn size_and_duration_caps() {
    let small = DecodeOptions {
        max_bytes: 1_000,
        ..DecodeOptions::default()
    };
    assert!(matches!(
        decode_with(MP3, None, &small),
        Err(AudioError::TooLarge { size, limit: 1_000 }) if size == MP3.len()
    ));
    let short = DecodeOptions {
        max_duration: Duration::from_millis(100),
        ..DecodeOptions::default()
    };
    for (name, bytes) in [("mp3", MP3), ("flac", FLAC), ("opus", OPUS)] {
        assert!(
            matches!(
                decode_with(bytes, None, &short),
                Err(AudioError::TooLong { .. })
            ),
            "{name}"
        );
    }
    // A WAV header that declares an hour of audio it does not hold is fitted to its data (as
    // a streamed WAV's is), so nothing is sized from the claim; a WAV that does hold more than
    // the cap is refused.
    let mut claims_an_hour = wav(1, 1, 8_000, 16, &[0; 64]);
    claim_data_len(&mut claims_an_hour, 64, 8_000 * 2 * 3_600);
    let fitted = decode(&claims_an_hour, None).expect("fitted to its 64 bytes");
    assert_eq!(fitted.samples.len(), 32);
    let one_second = wav(1, 1, 8_000, 16, &[0; 16_000]);
    assert!(matches!(
        decode_with(&one_second, None, &short),
        Err(AudioError::TooLong { .. })
    ));
    let bad_rate = DecodeOptions {
        rate: Some(0),
        ..DecodeOptions::default()
    };
    assert!(matches!(
        decode_with(FLAC, None, &bad_rate),
        Err(AudioError::InvalidParameter(_))
    ));
}

#[test]
fn a_header_that_overstates_its_data_yields_what_is_there() {
    let data: Vec<u8> = sine(8_000, 800)
        .iter()
        .flat_map(|v| ((v * 32_768.0).round() as i16).to_le_bytes())
        .collect();
    let mut bytes = wav(1, 1, 8_000, 16, &data);
    claim_data_len(&mut bytes, data.len(), data.len() as u32 * 4);
    let pcm = decode(&bytes, None).unwrap();
    assert_eq!(pcm.samples.len(), 800);
}

#[test]
fn empty_and_unknown_input_is_an_error() {
    assert!(decode(&[], None).is_err());
    assert!(matches!(
        decode(b"this is not audio at all, just some text", Some("txt")),
        Err(AudioError::Unsupported(_))
    ));
}

/// A deterministic xorshift generator for the garbage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let prefixes: [&[u8]; 6] = [
        b"",
        b"RIFF\xff\xff\x00\x00WAVEfmt ",
        b"OggS\x00\x02",
        b"fLaC\x00\x00\x00\x22",
        b"ID3\x04\x00\x00\x00\x00\x00\x00",
        b"\xff\xfb\x90\x64",
    ];
    for round in 0..300 {
        let prefix = prefixes[round % prefixes.len()];
        let len = (rng.next() % 4_096) as usize;
        let mut bytes = prefix.to_vec();
        bytes.extend(rng.bytes(len));
        // Any result is fine; a panic or an abort is not.
        let _ = decode(&bytes, None);
    }
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let wav16 = {
        let data: Vec<u8> = sine(8_000, 800)
            .iter()
            .flat_map(|v| ((v * 32_768.0).round() as i16).to_le_bytes())
            .collect();
        wav(1, 1, 8_000, 16, &data)
    };
    for file in [MP3, FLAC, OPUS, &wav16[..]] {
        for cut in (0..file.len()).step_by(37) {
            if let Ok(pcm) = decode(&file[..cut], None) {
                assert!(pcm.samples.len() <= 24_000);
            }
        }
        for _ in 0..60 {
            let mut bytes = file.to_vec();
            for _ in 0..1 + rng.next() % 8 {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] = rng.next() as u8;
            }
            let _ = decode(&bytes, None);
        }
    }
}
