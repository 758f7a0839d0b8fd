//! The few RTP and RTCP header fields SRTP needs (RFC 3550 §5.1, §6.4).

use crate::error::SrtpError;

/// Fixed RTP header length.
const RTP_FIXED_HEADER_LEN: usize = 12;
/// RTCP header length up to and including the sender SSRC: the part SRTCP leaves in clear.
pub(crate) const RTCP_HEADER_LEN: usize = 8;

/// Where the payload of an RTP packet starts, and the fields that key it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    /// Header length: fixed header, CSRC list and header extension. The payload (with any
    /// padding, which SRTP encrypts with it) follows.
    pub(crate) len: usize,
    /// Sequence number.
    pub(crate) sequence: u16,
    /// Synchronisation source.
    pub(crate) ssrc: u32,
}

/// Parses the RTP header at the start of `packet`.
pub(crate) fn parse_rtp_header(packet: &[u8]) -> Result<RtpHeader, SrtpError> {
    let fixed = packet
        .get(..RTP_FIXED_HEADER_LEN)
        .ok_or(SrtpError::Truncated)?;
    if fixed[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    let csrc_count = usize::from(fixed[0] & 0x0f);
    let has_extension = fixed[0] & 0x10 != 0;
    let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);

    let mut len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
    if has_extension {
        let extension = packet.get(len..len + 4).ok_or(SrtpError::Truncated)?;
        let words = usize::from(u16::from_be_bytes([extension[2], extension[3]]));
        len += 4 + 4 * words;
    }
    if len > packet.len() {
        return Err(SrtpError::Truncated);
    }
    Ok(RtpHeader {
        len,
        sequence,
        ssrc,
    })
}

/// The sender SSRC of the first RTCP packet in `packet`.
pub(crate) fn parse_rtcp_ssrc(packet: &[u8]) -> Result<u32, SrtpError> {
    let header = packet.get(..RTCP_HEADER_LEN).ok_or(SrtpError::Truncated)?;
    if header[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    Ok(u32::from_be_bytes([
        header[4], header[5], header[6], header[7],
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plain_header() {
        let packet = hex::decode("8040f17b8041f8d35501a0b247616c6c").unwrap();
        assert_eq!(
            parse_rtp_header(&packet),
            Ok(RtpHeader {
                len: 12,
                sequence: 0xf17b,
                ssrc: 0x5501_a0b2
            })
        );
    }

    #[test]
    fn counts_csrcs_and_the_extension() {
        // V=2, X=1, CC=2; two CSRCs; extension profile 0xBEDE with 2 words; 3-byte payload.
        let packet = hex::decode(concat!(
            "92000001", "00000002", "00000003", "11111111", "22222222", "bede0002", "10aa2233",
            "44000000", "abcdef"
        ))
        .unwrap();
        let header = parse_rtp_header(&packet).unwrap();
        assert_eq!(header.len, 12 + 8 + 4 + 8);
        assert_eq!(header.ssrc, 3);
        assert_eq!(header.sequence, 1);
        // The header may fill the packet exactly: an empty payload.
        assert!(parse_rtp_header(&packet[..header.len]).is_ok());
        // Every shorter cut runs the CSRC list or the extension past the end.
        for cut in 0..header.len {
            assert_eq!(
                parse_rtp_header(&packet[..cut]),
                Err(SrtpError::Truncated),
                "{cut}"
            );
        }
    }

    #[test]
    fn refuses_other_versions() {
        let mut packet = hex::decode("8040f17b8041f8d35501a0b2").unwrap();
        for version in [0u8, 1, 3] {
            packet[0] = version << 6;
            assert_eq!(parse_rtp_header(&packet), Err(SrtpError::BadVersion));
            assert_eq!(parse_rtcp_ssrc(&packet), Err(SrtpError::BadVersion));
        }
    }

    #[test]
    fn reads_the_rtcp_sender_ssrc() {
        let packet = hex::decode("81c8000d4d617273").unwrap();
        assert_eq!(parse_rtcp_ssrc(&packet), Ok(0x4d61_7273));
        assert_eq!(parse_rtcp_ssrc(&packet[..7]), Err(SrtpError::Truncated));
    }
}
