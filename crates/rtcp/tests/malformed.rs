//! Malformed input ends the parse with one error, after everything parsed before it.

mod common;

use common::{Item, items};
use weft_rtcp::{ParseError, Pli};

/// A well-formed PLI, to show what comes before a malformed packet is kept.
#[rustfmt::skip]
const PLI: [u8; 12] = [
    0x81, 206, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02,
];

fn pli() -> Item {
    Item::Pli(Pli {
        sender_ssrc: 1,
        media_ssrc: 2,
    })
}

/// `bad` after a good PLI, and a PLI after it that must not be reached.
fn after_a_pli(bad: &[u8]) -> Vec<u8> {
    [&PLI[..], bad, &PLI].concat()
}

fn assert_fails(bad: &[u8], error: ParseError) {
    assert_eq!(items(bad), [Item::Error(error)], "{bad:02x?}");
    assert_eq!(
        items(&after_a_pli(bad)),
        [pli(), Item::Error(error)],
        "{bad:02x?}"
    );
}

#[test]
fn an_empty_buffer_yields_nothing() {
    assert_eq!(items(&[]), []);
}

#[test]
fn versions_other_than_2_are_refused() {
    for first in [0x01, 0x41, 0xc1] {
        assert_fails(
            &[first, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2],
            ParseError::BadVersion,
        );
    }
    assert_fails(&[0; 16], ParseError::BadVersion);
}

#[test]
fn a_length_past_the_end_is_truncation() {
    let mut long = PLI;
    long[3] = 3;
    assert_eq!(items(&long), [Item::Error(ParseError::Truncated)]);
    assert_eq!(
        items(&[&PLI[..], &long].concat()),
        [pli(), Item::Error(ParseError::Truncated)]
    );
}

#[test]
fn trailing_bytes_shorter_than_a_header_are_truncation() {
    for tail in 1..4 {
        let compound = [&PLI[..], &[0x80; 3][..tail]].concat();
        assert_eq!(
            items(&compound),
            [pli(), Item::Error(ParseError::Truncated)]
        );
    }
}

#[test]
fn report_blocks_beyond_the_packet_are_refused_whole() {
    #[rustfmt::skip]
    let two_announced_one_present = [
        0x82, 201, 0x00, 0x07,
        0x00, 0x00, 0x00, 0x09,
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_fails(&two_announced_one_present, ParseError::TooShort);
    // A sender report too short for its sender info.
    assert_fails(
        &[0x80, 200, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0],
        ParseError::TooShort,
    );
    // A receiver report without its SSRC.
    assert_fails(&[0x80, 201, 0, 0], ParseError::TooShort);
}

#[test]
fn feedback_without_its_ssrcs_is_too_short() {
    assert_fails(&[0x81, 205, 0, 1, 0, 0, 0, 1], ParseError::TooShort);
    assert_fails(&[0x81, 206, 0, 1, 0, 0, 0, 1], ParseError::TooShort);
    assert_fails(&[0x84, 206, 0, 0], ParseError::TooShort);
}

#[test]
fn feedback_without_whole_entries_is_refused() {
    // A NACK without entries.
    assert_fails(
        &[0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2],
        ParseError::BadFci,
    );
    // A FIR without entries, and one with half an entry.
    assert_fails(
        &[0x84, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0],
        ParseError::BadFci,
    );
    #[rustfmt::skip]
    let half_a_fir = [0x84, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
    assert_fails(&half_a_fir, ParseError::BadFci);
    // Padding that cuts a NACK entry in half.
    #[rustfmt::skip]
    let cut_by_padding = [0xa1, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 2];
    assert_fails(&cut_by_padding, ParseError::BadFci);
}

#[test]
fn padding_counts_out_of_range_are_refused() {
    // A count of zero, a count longer than the body, and a header alone with padding.
    assert_fails(&[0xa0, 201, 0, 1, 0, 0, 0, 0], ParseError::BadPadding);
    assert_fails(&[0xa0, 201, 0, 1, 0, 0, 0, 5], ParseError::BadPadding);
    assert_fails(&[0xa0, 203, 0, 0], ParseError::BadPadding);
}

#[test]
fn padding_is_removed_before_the_body_is_read() {
    // A PLI whose padding takes the whole of its media SSRC is too short.
    #[rustfmt::skip]
    let padded_pli = [0xa1, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4];
    assert_fails(&padded_pli, ParseError::TooShort);
}

#[test]
fn many_header_only_packets_end() {
    // Length 0 is one word: a header alone. Each still moves the parse forward.
    let goodbyes = [0x80, 203, 0, 0].repeat(10_000);
    assert_eq!(items(&goodbyes), []);
    let compound = [&goodbyes[..], &PLI].concat();
    assert_eq!(items(&compound), [pli()]);
}
