//! Keyframe requests: picture loss indication (PSFB FMT 1, RFC 4585 §6.3.1) and full intra
//! request (PSFB FMT 4, RFC 5104 §4.3.1).

use crate::ParseError;
use crate::header::{PAYLOAD_FEEDBACK, push_header, take_u32};

/// Feedback message type of a PLI within PSFB.
pub(crate) const PLI_FMT: u8 = 1;
/// Feedback message type of a FIR within PSFB.
pub(crate) const FIR_FMT: u8 = 4;
/// Length of one FIR entry: SSRC, command sequence number and 24 reserved bits.
pub(crate) const FIR_ENTRY_LEN: usize = 8;
/// Length field of a PLI: header and the two SSRCs, in words, minus one.
const PLI_LENGTH: u16 = 2;

/// A picture loss indication: `sender_ssrc` asks for a keyframe of `media_ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli {
    /// SSRC of the packet sender (the receiver that lost the picture).
    pub sender_ssrc: u32,
    /// SSRC of the media stream to refresh.
    pub media_ssrc: u32,
}

impl Pli {
    /// Reads the body of a PSFB packet with FMT 1.
    pub(crate) fn parse(body: &[u8]) -> Result<Pli, ParseError> {
        let mut body = body;
        match (take_u32(&mut body), take_u32(&mut body)) {
            (Some(sender_ssrc), Some(media_ssrc)) => Ok(Pli {
                sender_ssrc,
                media_ssrc,
            }),
            _ => Err(ParseError::TooShort),
        }
    }
}

/// One entry of a full intra request: `sender_ssrc` asks for a decoder refresh of
/// `media_ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir {
    /// SSRC of the packet sender (the receiver asking for the refresh).
    pub sender_ssrc: u32,
    /// SSRC of the media stream to refresh, from the FCI entry.
    pub media_ssrc: u32,
    /// Command sequence number: a repeated request keeps it, a new request increments it.
    pub sequence_number: u8,
}

impl Fir {
    /// Reads the fixed part of a PSFB packet with FMT 4: the sender SSRC and the entries
    /// that follow the (unused) media SSRC.
    pub(crate) fn parse(body: &[u8]) -> Result<(u32, &[u8]), ParseError> {
        let mut entries = body;
        let (Some(sender_ssrc), Some(_unused)) = (take_u32(&mut entries), take_u32(&mut entries))
        else {
            return Err(ParseError::TooShort);
        };
        if entries.is_empty() || !entries.len().is_multiple_of(FIR_ENTRY_LEN) {
            return Err(ParseError::BadFci);
        }
        Ok((sender_ssrc, entries))
    }

    /// Splits one entry off the front of `entries`; `None` when fewer than 8 bytes remain.
    pub(crate) fn take(sender_ssrc: u32, entries: &mut &[u8]) -> Option<Fir> {
        let (&[s0, s1, s2, s3, sequence_number, ..], rest) =
            entries.split_first_chunk::<FIR_ENTRY_LEN>()?;
        *entries = rest;
        Some(Fir {
            sender_ssrc,
            media_ssrc: u32::from_be_bytes([s0, s1, s2, s3]),
            sequence_number,
        })
    }
}

/// Appends a picture loss indication from `sender_ssrc` for `media_ssrc`.
pub fn append_pli(out: &mut Vec<u8>, sender_ssrc: u32, media_ssrc: u32) {
    push_header(out, PLI_FMT, PAYLOAD_FEEDBACK, PLI_LENGTH);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pli_is_three_words() {
        let mut out = vec![0xaa];
        append_pli(&mut out, 0x0102_0304, 0x0506_0708);
        assert_eq!(out, [0xaa, 0x81, 206, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            Pli::parse(&out[5..]),
            Ok(Pli {
                sender_ssrc: 0x0102_0304,
                media_ssrc: 0x0506_0708
            })
        );
        assert_eq!(Pli::parse(&out[5..12]), Err(ParseError::TooShort));
    }

    #[test]
    fn fir_entries_are_whole() {
        assert_eq!(Fir::parse(&[0; 7]), Err(ParseError::TooShort));
        assert_eq!(Fir::parse(&[0; 8]), Err(ParseError::BadFci));
        assert_eq!(Fir::parse(&[0; 12]), Err(ParseError::BadFci));
        let body = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 42, 0, 0, 0];
        let (sender_ssrc, mut entries) = Fir::parse(&body).unwrap();
        assert_eq!(
            Fir::take(sender_ssrc, &mut entries),
            Some(Fir {
                sender_ssrc: 1,
                media_ssrc: 9,
                sequence_number: 42
            })
        );
        assert_eq!(Fir::take(sender_ssrc, &mut entries), None);
    }
}
