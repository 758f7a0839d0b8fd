//! Generic NACK: transport-layer feedback FMT 1 (RFC 4585 §6.2.1).

use std::iter::FusedIterator;

use crate::header::{TRANSPORT_FEEDBACK, push_header, take_u32};
use crate::{BuildError, ParseError};

/// Feedback message type of a generic NACK within RTPFB.
pub(crate) const NACK_FMT: u8 = 1;
/// Length of one FCI entry: packet ID (PID) and bitmask of following lost packets (BLP).
const ENTRY_LEN: usize = 4;
/// Length field of a NACK without entries: header and the two SSRCs, in words, minus one.
const EMPTY_LENGTH: u16 = 2;

/// A generic NACK: `sender_ssrc` did not receive the packets [`Nack::lost`] lists of
/// `media_ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// SSRC of the packet sender (the receiver asking for retransmission).
    pub sender_ssrc: u32,
    /// SSRC of the media stream the lost packets belong to.
    pub media_ssrc: u32,
    /// The FCI entries: a non-empty whole number of PID/BLP pairs.
    entries: &'a [u8],
}

impl<'a> Nack<'a> {
    /// Reads the body of an RTPFB packet with FMT 1.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Nack<'a>, ParseError> {
        let mut entries = body;
        let (Some(sender_ssrc), Some(media_ssrc)) =
            (take_u32(&mut entries), take_u32(&mut entries))
        else {
            return Err(ParseError::TooShort);
        };
        if entries.is_empty() || !entries.len().is_multiple_of(ENTRY_LEN) {
            return Err(ParseError::BadFci);
        }
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            entries,
        })
    }

    /// The lost sequence numbers, entry by entry: each PID, then the packets its BLP marks
    /// (PID + 1 for the least significant bit up to PID + 16), wrapping from 65535 to 0.
    pub fn lost(&self) -> LostSequences<'a> {
        LostSequences {
            entries: self.entries,
            pid: 0,
            pending: 0,
        }
    }
}

/// Iterator over the lost sequence numbers of a [`Nack`], from [`Nack::lost`].
#[derive(Debug, Clone)]
pub struct LostSequences<'a> {
    /// The entries not yet started.
    entries: &'a [u8],
    /// PID of the current entry.
    pid: u16,
    /// Offsets from `pid` still to yield: bit 0 is the PID itself, bit i is BLP bit i - 1.
    pending: u32,
}

impl Iterator for LostSequences<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if self.pending == 0 {
            let (&[pid_high, pid_low, blp_high, blp_low], rest) =
                self.entries.split_first_chunk::<ENTRY_LEN>()?;
            self.entries = rest;
            self.pid = u16::from_be_bytes([pid_high, pid_low]);
            self.pending = 1 | u32::from(u16::from_be_bytes([blp_high, blp_low])) << 1;
        }
        let offset = self.pending.trailing_zeros();
        self.pending &= self.pending - 1;
        // `pending` has 17 bits, so the offset is at most 16.
        Some(self.pid.wrapping_add(offset as u16))
    }
}

impl FusedIterator for LostSequences<'_> {}

/// Appends a generic NACK from `sender_ssrc` for the `lost` packets of `media_ssrc`.
///
/// Each entry covers its PID and the 16 sequence numbers after it, so sequence numbers in
/// ascending order (wrapping at 65535) pack into the fewest entries; any order is correct.
/// Appends nothing and fails when `lost` is empty or needs more entries than one packet holds.
pub fn append_nack(
    out: &mut Vec<u8>,
    sender_ssrc: u32,
    media_ssrc: u32,
    lost: impl IntoIterator<Item = u16>,
) -> Result<(), BuildError> {
    let start = out.len();
    push_header(out, NACK_FMT, TRANSPORT_FEEDBACK, EMPTY_LENGTH);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());

    let mut length = EMPTY_LENGTH;
    let mut entry: Option<(u16, u16)> = None;
    for sequence in lost {
        if let Some((pid, blp)) = &mut entry {
            match sequence.wrapping_sub(*pid) {
                0 => continue,
                offset @ 1..=16 => {
                    *blp |= 1 << (offset - 1);
                    continue;
                }
                _ => {}
            }
        }
        if let Some((pid, blp)) = entry.replace((sequence, 0))
            && !push_entry(out, &mut length, pid, blp)
        {
            out.truncate(start);
            return Err(BuildError::TooManyNackEntries);
        }
    }
    let Some((pid, blp)) = entry else {
        out.truncate(start);
        return Err(BuildError::EmptyNack);
    };
    if !push_entry(out, &mut length, pid, blp) {
        out.truncate(start);
        return Err(BuildError::TooManyNackEntries);
    }
    out[start + 2..start + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

/// Appends one PID/BLP entry and counts it in `length`; false when the length field is full.
fn push_entry(out: &mut Vec<u8>, length: &mut u16, pid: u16, blp: u16) -> bool {
    let Some(longer) = length.checked_add(1) else {
        return false;
    };
    *length = longer;
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(&blp.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost_of(body: &[u8]) -> Vec<u16> {
        Nack::parse(body).unwrap().lost().collect()
    }

    #[test]
    fn blp_bits_follow_the_pid_from_the_least_significant_bit() {
        let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2];
        body.extend_from_slice(&[0x03, 0xe8, 0b1000_0000, 0b0000_0101]);
        assert_eq!(lost_of(&body), [1000, 1001, 1003, 1016]);
    }

    #[test]
    fn sequence_numbers_wrap_after_65535() {
        let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2];
        body.extend_from_slice(&[0xff, 0xfe, 0xff, 0xff]);
        let expected: Vec<u16> = [65534, 65535].into_iter().chain(0..=14).collect();
        assert_eq!(lost_of(&body), expected);
    }

    #[test]
    fn entries_are_read_in_order() {
        let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2];
        body.extend_from_slice(&[0x00, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01]);
        assert_eq!(lost_of(&body), [10, 5, 6]);
    }

    #[test]
    fn a_nack_needs_whole_entries() {
        assert_eq!(Nack::parse(&[0; 7]), Err(ParseError::TooShort));
        assert_eq!(Nack::parse(&[0; 8]), Err(ParseError::BadFci));
        assert_eq!(Nack::parse(&[0; 10]), Err(ParseError::BadFci));
        assert!(Nack::parse(&[0; 12]).is_ok());
    }

    #[test]
    fn building_packs_runs_into_entries() {
        let mut out = Vec::new();
        append_nack(&mut out, 7, 9, [65530, 65531, 65535, 0, 4, 5, 200]).unwrap();
        assert_eq!(
            out,
            [
                0x81, 205, 0, 4, // V=2, FMT=1, RTPFB, length 4
                0, 0, 0, 7, 0, 0, 0, 9, // sender and media SSRC
                0xff, 0xfa, 0x06, 0x31, // PID 65530, BLP +1 +5 +6 +10 +11
                0x00, 0xc8, 0x00, 0x00, // PID 200
            ]
        );
    }

    #[test]
    fn building_skips_repeats_and_keeps_the_order_given() {
        let mut out = Vec::new();
        append_nack(&mut out, 1, 2, [20, 20, 3, 21]).unwrap();
        let nack = Nack::parse(&out[4..]).unwrap();
        assert_eq!(nack.lost().collect::<Vec<_>>(), [20, 3, 21]);
    }

    #[test]
    fn building_an_empty_nack_fails_and_appends_nothing() {
        let mut out = vec![1, 2, 3];
        assert_eq!(append_nack(&mut out, 1, 2, []), Err(BuildError::EmptyNack));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn building_more_entries_than_the_length_field_counts_fails() {
        let mut out = Vec::new();
        // Steps of 17 never share an entry, so each sequence number needs one of its own.
        let widely_spaced = (0..65_533u32).map(|i| (i * 17) as u16);
        append_nack(&mut out, 1, 2, widely_spaced).unwrap();
        assert_eq!(out.len(), (usize::from(u16::MAX) + 1) * 4);

        out.clear();
        let one_more = (0..65_534u32).map(|i| (i * 17) as u16);
        assert_eq!(
            append_nack(&mut out, 1, 2, one_more),
            Err(BuildError::TooManyNackEntries)
        );
        assert!(out.is_empty());
    }
}
