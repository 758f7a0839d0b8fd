//! The common RTCP header (RFC 3550 §6.4.1) and splitting a compound packet into its packets.

use crate::ParseError;

/// Packet type of a sender report (RFC 3550 §6.4.1).
pub(crate) const SENDER_REPORT: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
pub(crate) const RECEIVER_REPORT: u8 = 201;
/// Packet type of source description items (RFC 3550 §6.5).
pub(crate) const SOURCE_DESCRIPTION: u8 = 202;
/// Packet type of transport-layer feedback, RTPFB (RFC 4585 §6.1).
pub(crate) const TRANSPORT_FEEDBACK: u8 = 205;
/// Packet type of payload-specific feedback, PSFB (RFC 4585 §6.1).
pub(crate) const PAYLOAD_FEEDBACK: u8 = 206;

/// Length of the common header: version, padding, count, packet type and length.
const HEADER_LEN: usize = 4;
/// The first octet of a version 2 packet without padding and with a count of zero.
const VERSION_2: u8 = 0x80;
const PADDING_BIT: u8 = 0x20;
const COUNT_MASK: u8 = 0x1f;

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet<'a> {
    /// The 5-bit field after the padding bit: a report or source count, or a feedback
    /// message type (FMT).
    pub count: u8,
    pub packet_type: u8,
    /// Everything after the common header, without the padding.
    pub body: &'a [u8],
}

/// Splits the first packet off a non-empty `compound`, returning it and what follows it.
pub(crate) fn split_first(compound: &[u8]) -> Result<(Packet<'_>, &[u8]), ParseError> {
    let Some((&[first, packet_type, length_high, length_low], _)) =
        compound.split_first_chunk::<HEADER_LEN>()
    else {
        return Err(ParseError::Truncated);
    };
    if first & 0xc0 != VERSION_2 {
        return Err(ParseError::BadVersion);
    }
    let words = usize::from(u16::from_be_bytes([length_high, length_low])) + 1;
    let (packet, rest) = compound
        .split_at_checked(words * 4)
        .ok_or(ParseError::Truncated)?;
    let mut body = &packet[HEADER_LEN..];
    if first & PADDING_BIT != 0 {
        let padding = usize::from(body.last().copied().unwrap_or(0));
        if padding == 0 || padding > body.len() {
            return Err(ParseError::BadPadding);
        }
        body = &body[..body.len() - padding];
    }
    let packet = Packet {
        count: first & COUNT_MASK,
        packet_type,
        body,
    };
    Ok((packet, rest))
}

/// Appends a version 2 header without padding; `length` is the packet's length in 32-bit
/// words minus one, as the length field counts it.
pub(crate) fn push_header(out: &mut Vec<u8>, count: u8, packet_type: u8, length: u16) {
    let [length_high, length_low] = length.to_be_bytes();
    out.extend_from_slice(&[
        VERSION_2 | (count & COUNT_MASK),
        packet_type,
        length_high,
        length_low,
    ]);
}

/// Splits a big-endian 32-bit word off the front of `bytes`.
pub(crate) fn take_u32(bytes: &mut &[u8]) -> Option<u32> {
    let (word, rest) = bytes.split_first_chunk::<4>()?;
    *bytes = rest;
    Some(u32::from_be_bytes(*word))
}
