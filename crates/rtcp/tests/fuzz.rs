//! Property tests over deterministic random input: valid compound packets parse to what was
//! written, every truncation keeps the whole packets before the cut, and random or mutated
//! buffers never panic or loop (`common::items` bounds the items and checks the error comes
//! last).

mod common;

use common::{Item, XorShift, items, packet_ends};
use weft_rtcp::{
    Fir, ParseError, Pli, ReceptionReport, SenderInfo, append_nack, append_pli,
    append_sender_report,
};

/// A compound packet and what parsing it must yield.
struct Generated {
    bytes: Vec<u8>,
    expected: Vec<Item>,
}

fn header(out: &mut Vec<u8>, padding: bool, count: u8, packet_type: u8, words: usize) {
    let first = 0x80 | if padding { 0x20 } else { 0 } | count;
    out.extend_from_slice(&[first, packet_type]);
    out.extend_from_slice(&(words as u16 - 1).to_be_bytes());
}

fn random_block(rng: &mut XorShift, reporter_ssrc: u32) -> ReceptionReport {
    ReceptionReport {
        reporter_ssrc,
        source_ssrc: rng.next_u32(),
        fraction_lost: rng.next_u8(),
        cumulative_lost: ((rng.next_u32() << 8) as i32) >> 8,
        extended_highest_sequence: rng.next_u32(),
        jitter: rng.next_u32(),
        last_sender_report: rng.next_u32(),
        delay_since_last_sender_report: rng.next_u32(),
    }
}

fn push_block(out: &mut Vec<u8>, block: &ReceptionReport) {
    out.extend_from_slice(&block.source_ssrc.to_be_bytes());
    let loss = (u32::from(block.fraction_lost) << 24) | (block.cumulative_lost as u32 & 0xff_ffff);
    out.extend_from_slice(&loss.to_be_bytes());
    for word in [
        block.extended_highest_sequence,
        block.jitter,
        block.last_sender_report,
        block.delay_since_last_sender_report,
    ] {
        out.extend_from_slice(&word.to_be_bytes());
    }
}

/// Appends one random packet, valid, and what it yields; with `padding`, pads it.
fn push_random_packet(rng: &mut XorShift, generated: &mut Generated, padding: bool) {
    let out = &mut generated.bytes;
    let expected = &mut generated.expected;
    let ssrc = rng.next_u32();
    let pad_words = if padding { 1 + rng.below(3) } else { 0 };
    let start = out.len();
    match rng.below(8) {
        kind @ (0 | 1) => {
            // A sender (0) or receiver (1) report with 0 to 31 blocks.
            let blocks: Vec<ReceptionReport> = (0..rng.below(32))
                .map(|_| random_block(rng, ssrc))
                .collect();
            let (packet_type, info_words) = if kind == 0 { (200, 5) } else { (201, 0) };
            let words = 2 + info_words + 6 * blocks.len() + pad_words;
            header(out, padding, blocks.len() as u8, packet_type, words);
            out.extend_from_slice(&ssrc.to_be_bytes());
            for _ in 0..info_words * 4 {
                out.push(rng.next_u8());
            }
            blocks.iter().for_each(|block| push_block(out, block));
            expected.extend(blocks.into_iter().map(Item::Report));
        }
        2 => {
            // A FIR with 1 to 8 entries.
            let entries = 1 + rng.below(8);
            header(out, padding, 4, 206, 3 + 2 * entries + pad_words);
            out.extend_from_slice(&ssrc.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            for _ in 0..entries {
                let fir = Fir {
                    sender_ssrc: ssrc,
                    media_ssrc: rng.next_u32(),
                    sequence_number: rng.next_u8(),
                };
                out.extend_from_slice(&fir.media_ssrc.to_be_bytes());
                out.extend_from_slice(&[fir.sequence_number, 0, 0, 0]);
                expected.push(Item::Fir(fir));
            }
        }
        3 => {
            let media_ssrc = rng.next_u32();
            let mut sequence = rng.next_u16();
            let lost: Vec<u16> = (0..1 + rng.below(40))
                .map(|_| {
                    sequence = sequence.wrapping_add(1 + rng.below(24) as u16);
                    sequence
                })
                .collect();
            append_nack(out, ssrc, media_ssrc, lost.iter().copied()).unwrap();
            expected.push(Item::Nack {
                sender_ssrc: ssrc,
                media_ssrc,
                lost,
            });
        }
        4 => {
            let media_ssrc = rng.next_u32();
            append_pli(out, ssrc, media_ssrc);
            expected.push(Item::Pli(Pli {
                sender_ssrc: ssrc,
                media_ssrc,
            }));
        }
        5 => {
            let info = SenderInfo {
                ssrc,
                ntp_timestamp: rng.next_u64(),
                rtp_timestamp: rng.next_u32(),
                packet_count: rng.next_u32(),
                octet_count: rng.next_u32(),
            };
            let cname: String = (0..rng.below(40)).map(|_| 'x').collect();
            append_sender_report(out, &info, &cname).unwrap();
        }
        _ => {
            // A packet Weft skips: BYE, APP, XR, TWCC or REMB with a random body, or a type
            // no RFC defines.
            let (mut count, packet_type) =
                [(1, 203), (0, 204), (0, 207), (15, 205), (15, 206)][rng.below(5)];
            let mut packet_type = packet_type;
            while rng.chance(1, 6) || matches!(packet_type, 200 | 201) {
                packet_type = rng.next_u8();
            }
            if matches!(packet_type, 205 | 206) {
                count = 15;
            }
            let body_words = rng.below(10);
            header(out, padding, count, packet_type, 1 + body_words + pad_words);
            for _ in 0..body_words * 4 {
                out.push(rng.next_u8());
            }
        }
    }
    // The builders write no padding; the hand-written kinds counted it in their length.
    let written_by_a_builder = out[start] & 0x20 == 0;
    if padding && !written_by_a_builder {
        for _ in 0..pad_words * 4 - 1 {
            out.push(rng.next_u8());
        }
        out.push((pad_words * 4) as u8);
    }
}

fn random_compound(rng: &mut XorShift) -> Generated {
    let mut generated = Generated {
        bytes: Vec::new(),
        expected: Vec::new(),
    };
    let packets = 1 + rng.below(6);
    for index in 0..packets {
        let padding = index == packets - 1 && rng.chance(1, 4);
        push_random_packet(rng, &mut generated, padding);
    }
    generated
}

#[test]
fn random_valid_compounds_parse_to_what_was_written() {
    let mut rng = XorShift::new(0xf022_0001);
    for _ in 0..10_000 {
        let generated = random_compound(&mut rng);
        assert_eq!(
            items(&generated.bytes),
            generated.expected,
            "{:02x?}",
            generated.bytes
        );
    }
}

#[test]
fn every_cut_keeps_the_whole_packets_before_it() {
    let mut rng = XorShift::new(0xf022_0002);
    for _ in 0..300 {
        let generated = random_compound(&mut rng);
        let bytes = &generated.bytes;
        let whole = items(bytes);
        let ends = packet_ends(bytes);
        for cut in 0..bytes.len() {
            let last_whole_end = ends.iter().copied().filter(|&end| end <= cut).max();
            let before = items(&bytes[..last_whole_end.unwrap_or(0)]);
            assert!(whole.starts_with(&before));
            let mut expected = before;
            if !ends.contains(&cut) && cut != 0 {
                expected.push(Item::Error(ParseError::Truncated));
            }
            assert_eq!(
                items(&bytes[..cut]),
                expected,
                "cut at {cut} of {bytes:02x?}"
            );
        }
    }
}

#[test]
fn mutated_compounds_never_panic() {
    let mut rng = XorShift::new(0xf022_0003);
    let mut errors = 0;
    for _ in 0..50_000 {
        let mut bytes = random_compound(&mut rng).bytes;
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(6) {
                0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
                1 if at < bytes.len() => bytes[at] = rng.next_u8(),
                2 => bytes.insert(at, rng.next_u8()),
                3 if at < bytes.len() => {
                    bytes.remove(at);
                }
                4 => bytes.truncate(at),
                _ => {
                    // Rewrite a length field, the likeliest way to reach past a packet.
                    if bytes.len() >= 4 {
                        let length = rng.next_u16() >> rng.below(16);
                        bytes[2..4].copy_from_slice(&length.to_be_bytes());
                    }
                }
            }
        }
        if matches!(items(&bytes).last(), Some(Item::Error(_))) {
            errors += 1;
        }
    }
    // The mutations must reach the error paths, or this test proves little.
    assert!(
        errors > 10_000,
        "only {errors} mutated buffers failed to parse"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift::new(0xf022_0004);
    let mut yielded = 0;
    for _ in 0..50_000 {
        let mut bytes: Vec<u8> = (0..rng.below(256)).map(|_| rng.next_u8()).collect();
        // Give most buffers a plausible first header so parsing goes past the version check.
        if bytes.len() >= 4 && rng.chance(3, 4) {
            bytes[0] = 0x80 | (bytes[0] & 0x3f);
            bytes[1] = 200 + rng.below(8) as u8;
            bytes[2] = 0;
            bytes[3] = (rng.below(bytes.len() / 4 + 1)) as u8;
        }
        yielded += items(&bytes).len();
    }
    assert!(yielded > 10_000, "only {yielded} items from random buffers");
}
