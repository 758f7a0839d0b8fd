use std::f32::consts::TAU;
use std::io::Cursor;

use opus_rs::{Application, OpusEncoder};

use super::*;
use crate::decode::{DecodeOptions, decode, decode_with};
use crate::goertzel::Goertzel;
use crate::ogg::{Page, pages};

/// `frames` 20 ms Opus packets of a 700 Hz tone at half scale, encoded with `opus-rs`.
fn opus_tone(channels: usize, frames: usize) -> Vec<Vec<u8>> {
    let mut encoder = OpusEncoder::new(48_000, channels, Application::Voip).unwrap();
    encoder.bitrate_bps = 32_000;
    let mut pcm = vec![0f32; 960 * channels];
    let mut packet = vec![0u8; 1_275];
    let mut n = 0usize;
    (0..frames)
        .map(|_| {
            for frame in pcm.chunks_exact_mut(channels) {
                let v = 0.5 * (TAU * 700.0 * n as f32 / 48_000.0).sin();
                frame.fill(v);
                n += 1;
            }
            let len = encoder.encode(&pcm, 960, &mut packet).unwrap();
            packet[..len].to_vec()
        })
        .collect()
}

fn record(config: &OggOpusConfig, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut w = OggOpusWriter::new(Cursor::new(Vec::new()), config).unwrap();
    for p in packets {
        w.write_packet(p).unwrap();
    }
    assert_eq!(w.granule(), packets.len() as u64 * 960);
    w.finish().unwrap().into_inner()
}

fn assert_700_hz(samples: &[i16], rate: u32) {
    let mid = &samples[samples.len() / 4..3 * samples.len() / 4];
    let at = Goertzel::new(700.0, rate).amplitude(mid);
    assert!(at > 16_384.0 * 0.7 && at < 16_384.0 * 1.3, "700 Hz at {at}");
    let off = Goertzel::new(1_100.0, rate).amplitude(mid);
    assert!(off < at * 0.05, "1100 Hz at {off}");
}

#[test]
fn pages_follow_rfc_7845_and_their_crcs_verify() {
    let packets = opus_tone(1, 100);
    let file = record(&OggOpusConfig::default(), &packets);
    let read: Vec<Page<'_>> = pages(&file).collect();
    // Every page parsed (none skipped) and its CRC matches.
    let total: usize = read
        .iter()
        .map(|p| 27 + p.lacing.len() + p.body.len())
        .sum();
    assert_eq!(total, file.len());
    assert!(read.iter().all(|p| p.crc_ok && p.serial == 0x5745_4654));
    for (i, p) in read.iter().enumerate() {
        assert_eq!(p.sequence, i as u32);
    }

    let head = read[0];
    assert_eq!((head.flags, head.granule), (0x02, 0));
    assert_eq!(head.body.len(), 19);
    assert_eq!(&head.body[..8], b"OpusHead");
    assert_eq!(head.body[8], 1, "version");
    assert_eq!(head.body[9], 1, "channels");
    assert_eq!(u16::from_le_bytes([head.body[10], head.body[11]]), 312);
    assert_eq!(
        u32::from_le_bytes(head.body[12..16].try_into().unwrap()),
        48_000
    );
    assert_eq!(&head.body[16..19], &[0, 0, 0], "gain and mapping family");

    let tags = read[1];
    assert_eq!((tags.flags, tags.granule), (0, 0));
    assert_eq!(&tags.body[..8], b"OpusTags");
    assert_eq!(&tags.body[8..12], &4u32.to_le_bytes());
    assert_eq!(&tags.body[12..16], b"Weft");
    assert_eq!(&tags.body[16..20], &0u32.to_le_bytes());

    // Audio: one page per second (50 packets), granules at 48 kHz, the last page ends the stream.
    let audio = &read[2..];
    assert_eq!(audio.len(), 2);
    assert_eq!(audio[0].lacing.len(), 50);
    assert_eq!((audio[0].flags, audio[0].granule), (0, 48_000));
    assert_eq!((audio[1].flags, audio[1].granule), (0x04, 96_000));
    let bodies: Vec<u8> = audio.iter().flat_map(|p| p.body.iter().copied()).collect();
    assert_eq!(bodies, packets.concat(), "packets stored as given");
}

#[test]
fn an_opus_rs_tone_decodes_back() {
    let file = record(&OggOpusConfig::default(), &opus_tone(1, 50));
    let pcm = decode(&file, Some("opus")).unwrap();
    assert_eq!(pcm.rate, 48_000);
    assert_eq!(pcm.samples.len(), 48_000 - 312);
    assert_700_hz(&pcm.samples, 48_000);

    let at_8k = DecodeOptions {
        rate: Some(8_000),
        ..DecodeOptions::default()
    };
    let pcm = decode_with(&file, None, &at_8k).unwrap();
    assert_eq!(pcm.samples.len(), (48_000usize - 312).div_ceil(6));
    assert_700_hz(&pcm.samples, 8_000);
}

#[test]
fn stereo_packets_decode_to_mono() {
    let config = OggOpusConfig {
        channels: 2,
        ..OggOpusConfig::default()
    };
    let file = record(&config, &opus_tone(2, 25));
    let pcm = decode(&file, None).unwrap();
    assert_eq!(pcm.samples.len(), 24_000 - 312);
    assert_700_hz(&pcm.samples, 48_000);
}

#[test]
fn short_pages_when_asked() {
    let config = OggOpusConfig {
        max_page_ms: 100,
        ..OggOpusConfig::default()
    };
    let file = record(&config, &opus_tone(1, 12));
    let granules: Vec<u64> = pages(&file).skip(2).map(|p| p.granule).collect();
    assert_eq!(granules, vec![4_800, 9_600, 11_520]);
}

#[test]
fn refuses_what_is_not_an_opus_packet() {
    let mut w = OggOpusWriter::new(Vec::new(), &OggOpusConfig::default()).unwrap();
    assert!(w.write_packet(&[]).is_err());
    assert!(w.write_packet(&[(31 << 3) | 3]).is_err());
    assert!(w.write_packet(&vec![0x08; 255 * 255]).is_err());
    assert_eq!(w.granule(), 0);
    let bad = OggOpusConfig {
        channels: 3,
        ..OggOpusConfig::default()
    };
    assert!(OggOpusWriter::new(Vec::new(), &bad).is_err());
}

#[test]
fn an_empty_recording_is_a_stream_without_audio() {
    let file = OggOpusWriter::new(Vec::new(), &OggOpusConfig::default())
        .unwrap()
        .finish()
        .unwrap();
    let read: Vec<Page<'_>> = pages(&file).collect();
    assert_eq!(read.len(), 3);
    assert_eq!(read[2].flags, 0x04);
    assert!(read[2].lacing.is_empty());
    // Nothing to play: a clear error, not an empty success.
    assert!(matches!(decode(&file, None), Err(AudioError::Malformed(_))));
}
