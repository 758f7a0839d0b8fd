use std::io::Cursor;
use std::time::Duration;

use super::*;
use crate::decode::decode;
use crate::tone::tone;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Writes `samples` in 20 ms frames and returns the file.
fn record(encoding: WavEncoding, channels: u16, rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut w = WavWriter::new(Cursor::new(Vec::new()), encoding, channels, rate).unwrap();
    let frame = rate as usize / 50 * usize::from(channels);
    for chunk in samples.chunks(frame) {
        w.write_samples(chunk).unwrap();
    }
    assert_eq!(w.frames(), (samples.len() / usize::from(channels)) as u64);
    w.finish().unwrap().into_inner()
}

#[test]
fn pcm16_reads_back_identical() {
    for rate in [8_000, 16_000, 48_000] {
        let pcm = tone(700.0, Duration::from_millis(730), rate, -3.0).unwrap();
        let file = record(WavEncoding::Pcm16, 1, rate, &pcm.samples);
        // RIFF and data sizes, format 1, 16 bits.
        assert_eq!(u32_at(&file, 4) as usize, file.len() - 8);
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32_at(&file, 40) as usize, pcm.samples.len() * 2);
        assert_eq!(
            (u16_at(&file, 20), u16_at(&file, 22), u16_at(&file, 34)),
            (1, 1, 16)
        );
        assert_eq!(u32_at(&file, 24), rate);
        assert_eq!(decode(&file, Some("wav")).unwrap(), pcm);
    }
}

#[test]
fn stereo_from_separate_channels() {
    let voice = tone(700.0, Duration::from_millis(100), 8_000, -6.0)
        .unwrap()
        .samples;
    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavEncoding::Pcm16, 2, 8_000).unwrap();
    // The caller's side and the callee's side, frame by frame; here both carry the same audio
    // so the mono downmix of `decode` gives it back exactly.
    for chunk in voice.chunks(160) {
        w.write_stereo(chunk, chunk).unwrap();
    }
    assert_eq!(w.frames(), voice.len() as u64);
    let file = w.finish().unwrap().into_inner();
    assert_eq!(u16_at(&file, 22), 2);
    assert_eq!(u16_at(&file, 32), 4, "block align");
    assert_eq!(u32_at(&file, 40) as usize, voice.len() * 4);
    assert_eq!(decode(&file, None).unwrap().samples, voice);

    // Interleaving: left only.
    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavEncoding::Pcm16, 2, 8_000).unwrap();
    w.write_stereo(&[100, 200, 300], &[-1]).unwrap();
    let file = w.finish().unwrap().into_inner();
    let data: Vec<i16> = file[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(data, vec![100, -1, 200, 0, 300, 0]);
}

#[test]
fn g711_files_read_back_as_their_g711_values() {
    for (encoding, law, tag) in [
        (WavEncoding::MuLaw, Law::Mu, 7),
        (WavEncoding::ALaw, Law::A, 6),
    ] {
        // An odd number of samples: the data chunk gets a pad byte.
        let pcm = tone(700.0, Duration::from_millis(500), 8_000, -6.0).unwrap();
        let samples = &pcm.samples[..3_999];
        let file = record(encoding, 1, 8_000, samples);
        assert_eq!(file.len() % 2, 0);
        assert_eq!(u32_at(&file, 4) as usize, file.len() - 8);
        assert_eq!((u16_at(&file, 20), u16_at(&file, 34)), (tag, 8));
        assert_eq!(u32_at(&file, 16), 18, "fmt size with cbSize");
        assert_eq!(&file[38..42], b"fact");
        assert_eq!(u32_at(&file, 46), 3_999, "fact sample count");
        assert_eq!(&file[50..54], b"data");
        assert_eq!(u32_at(&file, 54), 3_999);
        let expected: Vec<i16> = samples
            .iter()
            .map(|&s| g711::to_linear(law, g711::from_linear(law, s)))
            .collect();
        assert_eq!(decode(&file, None).unwrap().samples, expected, "{law:?}");

        // Payloads as received from a G.711 leg are stored untouched.
        let payload: Vec<u8> = samples.iter().map(|&s| g711::from_linear(law, s)).collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new()), encoding, 1, 8_000).unwrap();
        for p in payload.chunks(160) {
            w.write_encoded(p).unwrap();
        }
        assert_eq!(w.finish().unwrap().into_inner(), file);
    }
}

#[test]
fn a_file_can_start_inside_a_larger_output() {
    let mut out = Cursor::new(b"prefix".to_vec());
    out.set_position(6);
    let mut w = WavWriter::new(out, WavEncoding::Pcm16, 1, 8_000).unwrap();
    w.write_samples(&[1, 2, 3]).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(&bytes[..6], b"prefix");
    assert_eq!(decode(&bytes[6..], None).unwrap().samples, vec![1, 2, 3]);
}

#[test]
fn bad_parameters_are_refused() {
    let out = || Cursor::new(Vec::new());
    assert!(WavWriter::new(out(), WavEncoding::Pcm16, 3, 8_000).is_err());
    assert!(WavWriter::new(out(), WavEncoding::Pcm16, 1, 0).is_err());
    let mut mono = WavWriter::new(out(), WavEncoding::Pcm16, 1, 8_000).unwrap();
    assert!(mono.write_stereo(&[1], &[2]).is_err());
}
