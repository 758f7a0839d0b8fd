//! The compound packet a sender sends: a sender report without report blocks (RFC 3550
//! §6.4.1) followed by a source description with its CNAME (RFC 3550 §6.5).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::BuildError;
use crate::header::{SENDER_REPORT, SOURCE_DESCRIPTION, push_header};

/// Length field of a sender report without report blocks: header, SSRC and 20 bytes of
/// sender info, in words, minus one.
const SENDER_REPORT_LENGTH: u16 = 6;
/// SDES item type of the canonical name.
const CNAME: u8 = 1;
/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01): 70 years with 17
/// leap days.
const NTP_UNIX_OFFSET_SECS: u64 = (70 * 365 + 17) * 86_400;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The sender info of a sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// SSRC of the stream the report is about.
    pub ssrc: u32,
    /// The 64-bit NTP timestamp of the report (see [`ntp_timestamp`]).
    pub ntp_timestamp: u64,
    /// The RTP timestamp of the same instant, on the stream's media clock.
    pub rtp_timestamp: u32,
    /// RTP packets sent on the stream since it began (wrapping).
    pub packet_count: u32,
    /// RTP payload octets sent on the stream since it began (wrapping).
    pub octet_count: u32,
}

/// Appends a sender report for `info` without report blocks, then a source description
/// whose one chunk gives `info.ssrc` the canonical name `cname`.
///
/// Together, appended to an empty buffer, they form a compound packet RFC 3550 §6.1 accepts.
/// Appends nothing and fails when `cname` is longer than 255 bytes.
pub fn append_sender_report(
    out: &mut Vec<u8>,
    info: &SenderInfo,
    cname: &str,
) -> Result<(), BuildError> {
    let cname_len = u8::try_from(cname.len()).map_err(|_| BuildError::CnameTooLong)?;

    push_header(out, 0, SENDER_REPORT, SENDER_REPORT_LENGTH);
    out.extend_from_slice(&info.ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.packet_count.to_be_bytes());
    out.extend_from_slice(&info.octet_count.to_be_bytes());

    // The chunk: SSRC, the CNAME item (type, length, text), then at least one null octet
    // that ends the item list, padded with nulls to the next 32-bit boundary.
    let item_len = 2 + cname.len();
    let nulls = 4 - item_len % 4;
    let chunk_words = 1 + (item_len + nulls) / 4;
    // At most 1 + 260 / 4 words, so the cast cannot truncate.
    push_header(out, 1, SOURCE_DESCRIPTION, chunk_words as u16);
    out.extend_from_slice(&info.ssrc.to_be_bytes());
    out.extend_from_slice(&[CNAME, cname_len]);
    out.extend_from_slice(cname.as_bytes());
    out.extend_from_slice(&[0; 4][..nulls]);
    Ok(())
}

/// The 64-bit NTP timestamp of `time` (RFC 3550 §4): seconds since 1900-01-01 in the high
/// 32 bits, wrapping in 2036 as NTP era 1 does, and the fraction of a second in the low 32.
/// Times before 1900 give 0.
pub fn ntp_timestamp(time: SystemTime) -> u64 {
    let since_1900 = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() + u128::from(NTP_UNIX_OFFSET_SECS) * NANOS_PER_SEC,
        Err(before) => (u128::from(NTP_UNIX_OFFSET_SECS) * NANOS_PER_SEC)
            .saturating_sub(before.duration().as_nanos()),
    };
    let seconds = (since_1900 / NANOS_PER_SEC) as u32;
    let fraction = (((since_1900 % NANOS_PER_SEC) << 32) / NANOS_PER_SEC) as u32;
    (u64::from(seconds) << 32) | u64::from(fraction)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ntp_timestamps_count_from_1900() {
        assert_eq!(ntp_timestamp(UNIX_EPOCH), 2_208_988_800 << 32);
        let half_past = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(
            ntp_timestamp(half_past),
            (2_208_988_801 << 32) | 0x8000_0000
        );
        // 2036-02-07T06:28:16Z starts NTP era 1.
        let era_1 = UNIX_EPOCH + Duration::from_secs((1 << 32) - 2_208_988_800);
        assert_eq!(ntp_timestamp(era_1), 0);
        assert_eq!(ntp_timestamp(era_1 + Duration::from_secs(3)), 3 << 32);
        let before_1900 = UNIX_EPOCH - Duration::from_secs(2_208_988_801);
        assert_eq!(ntp_timestamp(before_1900), 0);
    }

    #[test]
    fn cname_padding_ends_on_a_word_boundary() {
        for len in 0..=255 {
            let cname = "c".repeat(len);
            let info = SenderInfo {
                ssrc: 1,
                ntp_timestamp: 0,
                rtp_timestamp: 0,
                packet_count: 0,
                octet_count: 0,
            };
            let mut out = Vec::new();
            append_sender_report(&mut out, &info, &cname).unwrap();
            let sdes = &out[28..];
            assert_eq!(sdes.len() % 4, 0, "CNAME of {len} bytes");
            let words = usize::from(u16::from_be_bytes([sdes[2], sdes[3]])) + 1;
            assert_eq!(words * 4, sdes.len(), "CNAME of {len} bytes");
            let nulls = &sdes[10 + len..];
            assert!(
                (1..=4).contains(&nulls.len()) && nulls.iter().all(|&b| b == 0),
                "CNAME of {len} bytes ends with {nulls:?}"
            );
        }
    }

    #[test]
    fn a_cname_longer_than_255_bytes_is_refused() {
        let info = SenderInfo {
            ssrc: 1,
            ntp_timestamp: 0,
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
        };
        let mut out = vec![9];
        assert_eq!(
            append_sender_report(&mut out, &info, &"c".repeat(256)),
            Err(BuildError::CnameTooLong)
        );
        assert_eq!(out, [9]);
    }
}
