//! Hand-written packets, laid out field by field as the RFCs draw them, and what parsing
//! them yields.

mod common;

use common::{Item, items};
use weft_rtcp::{Fir, Pli, ReceptionReport};

/// A sender report (RFC 3550 §6.4.1) with one reception report block.
#[rustfmt::skip]
const SENDER_REPORT: [u8; 52] = [
    0x81, 200, 0x00, 0x0c,       // V=2 P=0 RC=1, PT=SR, length 12
    0x11, 0x22, 0x33, 0x44,       // SSRC of sender
    0xe1, 0xa2, 0xb3, 0xc4,       // NTP timestamp, most significant word
    0xd5, 0xe6, 0xf7, 0x08,       // NTP timestamp, least significant word
    0x00, 0x01, 0x5f, 0x90,       // RTP timestamp
    0x00, 0x00, 0x00, 0x64,       // sender's packet count
    0x00, 0x00, 0xfa, 0x00,       // sender's octet count
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC_1 (source 1)
    0x19, 0xff, 0xff, 0xfb,       // fraction lost 25/256, cumulative lost -5
    0x00, 0x01, 0x00, 0x10,       // extended highest sequence: 1 cycle, seq 16
    0x00, 0x00, 0x00, 0x21,       // interarrival jitter
    0xb3, 0xc4, 0xd5, 0xe6,       // last SR (LSR)
    0x00, 0x00, 0x80, 0x00,       // delay since last SR (DLSR): half a second
];

fn sender_report_block() -> ReceptionReport {
    ReceptionReport {
        reporter_ssrc: 0x1122_3344,
        source_ssrc: 0xaabb_ccdd,
        fraction_lost: 25,
        cumulative_lost: -5,
        extended_highest_sequence: 0x0001_0010,
        jitter: 0x21,
        last_sender_report: 0xb3c4_d5e6,
        delay_since_last_sender_report: 0x8000,
    }
}

/// A receiver report (RFC 3550 §6.4.2) with two blocks.
#[rustfmt::skip]
const RECEIVER_REPORT: [u8; 56] = [
    0x82, 201, 0x00, 0x0d,       // V=2 P=0 RC=2, PT=RR, length 13
    0x55, 0x66, 0x77, 0x88,       // SSRC of packet sender
    0x00, 0x00, 0x00, 0x01,       // SSRC_1
    0x00, 0x00, 0x00, 0x00,       // nothing lost
    0x00, 0x00, 0xff, 0xff,       // extended highest sequence
    0x00, 0x00, 0x00, 0x00,       // jitter
    0x00, 0x00, 0x00, 0x00,       // no SR received yet
    0x00, 0x00, 0x00, 0x00,       // so no delay either
    0x00, 0x00, 0x00, 0x02,       // SSRC_2
    0xff, 0x7f, 0xff, 0xff,       // fraction lost 255/256, cumulative lost 2^23 - 1
    0xff, 0xff, 0xff, 0xff,       // extended highest sequence
    0x12, 0x34, 0x56, 0x78,       // jitter
    0x9a, 0xbc, 0xde, 0xf0,       // LSR
    0x00, 0x01, 0x00, 0x00,       // DLSR: one second
];

fn receiver_report_blocks() -> [ReceptionReport; 2] {
    [
        ReceptionReport {
            reporter_ssrc: 0x5566_7788,
            source_ssrc: 1,
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_sequence: 0xffff,
            jitter: 0,
            last_sender_report: 0,
            delay_since_last_sender_report: 0,
        },
        ReceptionReport {
            reporter_ssrc: 0x5566_7788,
            source_ssrc: 2,
            fraction_lost: 255,
            cumulative_lost: 0x7f_ffff,
            extended_highest_sequence: 0xffff_ffff,
            jitter: 0x1234_5678,
            last_sender_report: 0x9abc_def0,
            delay_since_last_sender_report: 0x1_0000,
        },
    ]
}

/// Source description (RFC 3550 §6.5): one chunk with a CNAME.
#[rustfmt::skip]
const SOURCE_DESCRIPTION: [u8; 16] = [
    0x81, 202, 0x00, 0x03,       // V=2 P=0 SC=1, PT=SDES, length 3
    0x11, 0x22, 0x33, 0x44,       // SSRC_1
    0x01, 0x03, b'a', b'b',       // CNAME, length 3, "ab...
    b'c', 0x00, 0x00, 0x00,       // ...c", end of list and padding
];

/// Goodbye (RFC 3550 §6.6) from one source.
#[rustfmt::skip]
const GOODBYE: [u8; 8] = [
    0x81, 203, 0x00, 0x01,       // V=2 P=0 SC=1, PT=BYE, length 1
    0x11, 0x22, 0x33, 0x44,       // SSRC
];

/// Application-defined (RFC 3550 §6.7), subtype 0, no data.
#[rustfmt::skip]
const APPLICATION: [u8; 12] = [
    0x80, 204, 0x00, 0x02,       // V=2 P=0 subtype 0, PT=APP, length 2
    0x11, 0x22, 0x33, 0x44,       // SSRC
    b'w', b'e', b'f', b't',       // name
];

/// Transport-wide congestion control feedback (RTPFB FMT 15), skipped.
#[rustfmt::skip]
const TRANSPORT_WIDE: [u8; 20] = [
    0x8f, 205, 0x00, 0x04,       // V=2 P=0 FMT=15, PT=RTPFB, length 4
    0x11, 0x22, 0x33, 0x44,       // SSRC of packet sender
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC of media source
    0x00, 0x05, 0x00, 0x01,       // base sequence number, packet status count
    0x00, 0x00, 0x10, 0x00,       // reference time, feedback packet count
];

/// Receiver estimated maximum bitrate (PSFB FMT 15, application layer feedback), skipped.
#[rustfmt::skip]
const REMB: [u8; 24] = [
    0x8f, 206, 0x00, 0x05,       // V=2 P=0 FMT=15, PT=PSFB, length 5
    0x11, 0x22, 0x33, 0x44,       // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00,       // SSRC of media source: unused
    b'R', b'E', b'M', b'B',       // unique identifier
    0x01, 0x08, 0x00, 0x00,       // one SSRC, exponent and mantissa
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC feedback
];

/// Extended report (RFC 3611) without report blocks, skipped.
#[rustfmt::skip]
const EXTENDED_REPORT: [u8; 8] = [
    0x80, 207, 0x00, 0x01,       // V=2 P=0, PT=XR, length 1
    0x11, 0x22, 0x33, 0x44,       // SSRC
];

/// Generic NACK (RFC 4585 §6.2.1) whose BLP wraps past 65535.
#[rustfmt::skip]
const NACK: [u8; 20] = [
    0x81, 205, 0x00, 0x04,       // V=2 P=0 FMT=1, PT=RTPFB, length 4
    0x11, 0x22, 0x33, 0x44,       // SSRC of packet sender
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC of media source
    0xff, 0xf0, 0x80, 0x01,       // PID 65520, BLP: PID+1 and PID+16
    0x00, 0x64, 0x00, 0x00,       // PID 100 alone
];

/// Picture loss indication (RFC 4585 §6.3.1).
#[rustfmt::skip]
const PLI: [u8; 12] = [
    0x81, 206, 0x00, 0x02,       // V=2 P=0 FMT=1, PT=PSFB, length 2
    0x11, 0x22, 0x33, 0x44,       // SSRC of packet sender
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC of media source
];

/// Full intra request (RFC 5104 §4.3.1) with two entries.
#[rustfmt::skip]
const FIR: [u8; 28] = [
    0x84, 206, 0x00, 0x06,       // V=2 P=0 FMT=4, PT=PSFB, length 6
    0x11, 0x22, 0x33, 0x44,       // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00,       // SSRC of media source: unused
    0xaa, 0xbb, 0xcc, 0xdd,       // SSRC
    0x07, 0x00, 0x00, 0x00,       // command sequence number 7, reserved
    0x01, 0x02, 0x03, 0x04,       // SSRC
    0xff, 0x00, 0x00, 0x00,       // command sequence number 255, reserved
];

/// A receiver report with no blocks and four octets of padding (RFC 3550 §6.4.1).
#[rustfmt::skip]
const PADDED_RECEIVER_REPORT: [u8; 12] = [
    0xa0, 201, 0x00, 0x02,       // V=2 P=1 RC=0, PT=RR, length 2
    0x55, 0x66, 0x77, 0x88,       // SSRC of packet sender
    0x00, 0x00, 0x00, 0x04,       // padding, its last octet counting it
];

fn nack() -> Item {
    Item::Nack {
        sender_ssrc: 0x1122_3344,
        media_ssrc: 0xaabb_ccdd,
        lost: vec![65520, 65521, 0, 100],
    }
}

fn pli() -> Item {
    Item::Pli(Pli {
        sender_ssrc: 0x1122_3344,
        media_ssrc: 0xaabb_ccdd,
    })
}

fn firs() -> [Item; 2] {
    [
        Item::Fir(Fir {
            sender_ssrc: 0x1122_3344,
            media_ssrc: 0xaabb_ccdd,
            sequence_number: 7,
        }),
        Item::Fir(Fir {
            sender_ssrc: 0x1122_3344,
            media_ssrc: 0x0102_0304,
            sequence_number: 255,
        }),
    ]
}

#[test]
fn a_sender_report_yields_its_block() {
    assert_eq!(items(&SENDER_REPORT), [Item::Report(sender_report_block())]);
}

#[test]
fn a_receiver_report_yields_its_blocks_in_order() {
    assert_eq!(
        items(&RECEIVER_REPORT),
        receiver_report_blocks().map(Item::Report)
    );
}

#[test]
fn a_lone_nack_expands_pid_and_blp() {
    assert_eq!(items(&NACK), [nack()]);
}

#[test]
fn a_lone_pli_parses() {
    assert_eq!(items(&PLI), [pli()]);
}

#[test]
fn a_fir_yields_each_entry() {
    assert_eq!(items(&FIR), firs());
}

#[test]
fn packets_without_feedback_are_skipped() {
    for packet in [
        &SOURCE_DESCRIPTION[..],
        &GOODBYE,
        &APPLICATION,
        &TRANSPORT_WIDE,
        &REMB,
        &EXTENDED_REPORT,
        &PADDED_RECEIVER_REPORT,
    ] {
        assert_eq!(items(packet), [], "{packet:02x?}");
    }
}

#[test]
fn a_compound_packet_yields_everything_in_order() {
    let compound = [
        &SENDER_REPORT[..],
        &SOURCE_DESCRIPTION,
        &TRANSPORT_WIDE,
        &NACK,
        &REMB,
        &RECEIVER_REPORT,
        &APPLICATION,
        &PLI,
        &EXTENDED_REPORT,
        &FIR,
        &GOODBYE,
        &PADDED_RECEIVER_REPORT,
    ]
    .concat();
    let mut expected = vec![Item::Report(sender_report_block()), nack()];
    expected.extend(receiver_report_blocks().map(Item::Report));
    expected.push(pli());
    expected.extend(firs());
    assert_eq!(items(&compound), expected);
}
