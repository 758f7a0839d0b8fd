//! What the builders write parses back to what they were given.

mod common;

use std::collections::BTreeSet;

use common::{Item, XorShift, items, packet_ends};
use weft_rtcp::{Pli, SenderInfo, append_nack, append_pli, append_sender_report};

fn sender_info(rng: &mut XorShift) -> SenderInfo {
    SenderInfo {
        ssrc: rng.next_u32(),
        ntp_timestamp: rng.next_u64(),
        rtp_timestamp: rng.next_u32(),
        packet_count: rng.next_u32(),
        octet_count: rng.next_u32(),
    }
}

#[test]
fn a_sender_report_is_laid_out_as_rfc_3550_draws_it() {
    let info = SenderInfo {
        ssrc: 0x1122_3344,
        ntp_timestamp: 0xe1a2_b3c4_d5e6_f708,
        rtp_timestamp: 90_000,
        packet_count: 100,
        octet_count: 64_000,
    };
    let mut out = Vec::new();
    append_sender_report(&mut out, &info, "weft-1").unwrap();
    #[rustfmt::skip]
    let expected = [
        0x80, 200, 0x00, 0x06,       // V=2 P=0 RC=0, PT=SR, length 6
        0x11, 0x22, 0x33, 0x44,       // SSRC of sender
        0xe1, 0xa2, 0xb3, 0xc4,       // NTP timestamp, most significant word
        0xd5, 0xe6, 0xf7, 0x08,       // NTP timestamp, least significant word
        0x00, 0x01, 0x5f, 0x90,       // RTP timestamp
        0x00, 0x00, 0x00, 0x64,       // sender's packet count
        0x00, 0x00, 0xfa, 0x00,       // sender's octet count
        0x81, 202, 0x00, 0x04,       // V=2 P=0 SC=1, PT=SDES, length 4
        0x11, 0x22, 0x33, 0x44,       // SSRC_1
        0x01, 0x06, b'w', b'e',       // CNAME, length 6, "we...
        b'f', b't', b'-', b'1',       // ...ft-1"
        0x00, 0x00, 0x00, 0x00,       // end of list, padding to the word boundary
    ];
    assert_eq!(out, expected);
}

#[test]
fn sender_reports_parse_cleanly_and_carry_no_feedback() {
    let mut rng = XorShift::new(0x5eed_0001);
    let mut out = Vec::with_capacity(512);
    for len in 0..=255 {
        let info = sender_info(&mut rng);
        let cname: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        out.clear();
        append_sender_report(&mut out, &info, &cname).unwrap();
        assert_eq!(packet_ends(&out).len(), 2, "CNAME of {len} bytes");
        assert_eq!(items(&out), [], "CNAME of {len} bytes");
    }
}

#[test]
fn a_compound_report_with_feedback_round_trips() {
    let mut rng = XorShift::new(0x5eed_0002);
    let info = sender_info(&mut rng);
    let mut out = Vec::new();
    append_sender_report(&mut out, &info, "cname").unwrap();
    append_nack(&mut out, info.ssrc, 0xabcd, [7, 9, 30]).unwrap();
    append_pli(&mut out, info.ssrc, 0xabcd);
    assert_eq!(packet_ends(&out).len(), 4);
    assert_eq!(
        items(&out),
        [
            Item::Nack {
                sender_ssrc: info.ssrc,
                media_ssrc: 0xabcd,
                lost: vec![7, 9, 30]
            },
            Item::Pli(Pli {
                sender_ssrc: info.ssrc,
                media_ssrc: 0xabcd
            }),
        ]
    );
}

#[test]
fn ascending_lost_packets_round_trip_in_order() {
    let mut rng = XorShift::new(0x5eed_0003);
    let mut out = Vec::new();
    for _ in 0..5_000 {
        let mut sequence = rng.next_u16();
        let lost: Vec<u16> = (0..1 + rng.below(100))
            .map(|_| {
                // Mostly short gaps, sometimes one too long for a BLP; wraps past 65535.
                let gap = if rng.chance(1, 8) {
                    17 + rng.below(200)
                } else {
                    1 + rng.below(16)
                };
                sequence = sequence.wrapping_add(gap as u16);
                sequence
            })
            .collect();
        let (sender_ssrc, media_ssrc) = (rng.next_u32(), rng.next_u32());
        out.clear();
        append_nack(&mut out, sender_ssrc, media_ssrc, lost.iter().copied()).unwrap();
        assert_eq!(
            items(&out),
            [Item::Nack {
                sender_ssrc,
                media_ssrc,
                lost
            }]
        );
    }
}

#[test]
fn lost_packets_in_any_order_round_trip_as_a_set() {
    let mut rng = XorShift::new(0x5eed_0004);
    let mut out = Vec::new();
    for _ in 0..5_000 {
        let base = rng.next_u16();
        let lost: Vec<u16> = (0..1 + rng.below(60))
            .map(|_| base.wrapping_add(rng.below(80) as u16))
            .collect();
        out.clear();
        append_nack(&mut out, 1, 2, lost.iter().copied()).unwrap();
        let [Item::Nack { lost: parsed, .. }] = &items(&out)[..] else {
            panic!("not one NACK from {out:02x?}");
        };
        let parsed_set: BTreeSet<u16> = parsed.iter().copied().collect();
        assert_eq!(parsed_set, lost.iter().copied().collect(), "from {lost:?}");
    }
}

#[test]
fn a_pli_round_trips() {
    let mut out = Vec::new();
    append_pli(&mut out, 0xffff_ffff, 0);
    assert_eq!(
        items(&out),
        [Item::Pli(Pli {
            sender_ssrc: 0xffff_ffff,
            media_ssrc: 0
        })]
    );
}
