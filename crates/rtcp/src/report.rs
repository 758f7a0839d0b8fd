//! Reception report blocks of sender and receiver reports (RFC 3550 §6.4.1, §6.4.2).

use crate::header::take_u32;

/// Length of one reception report block.
pub(crate) const BLOCK_LEN: usize = 24;

/// One reception report block: what `reporter_ssrc` received of `source_ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// SSRC of the sender of the SR or RR that carries the block.
    pub reporter_ssrc: u32,
    /// SSRC of the stream the block reports on.
    pub source_ssrc: u32,
    /// Fraction of packets lost since the previous report, in units of 1/256.
    pub fraction_lost: u8,
    /// Packets expected minus packets received since the start of reception (24-bit signed;
    /// negative when duplicates arrived).
    pub cumulative_lost: i32,
    /// Rollover count in the high 16 bits, highest sequence number received in the low 16.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source (LSR), or 0.
    pub last_sender_report: u32,
    /// Delay since that SR was received, in units of 1/65536 s (DLSR), or 0.
    pub delay_since_last_sender_report: u32,
}

impl ReceptionReport {
    /// Splits one block off the front of `blocks`; `None` when fewer than 24 bytes remain.
    pub(crate) fn take(reporter_ssrc: u32, blocks: &mut &[u8]) -> Option<ReceptionReport> {
        let source_ssrc = take_u32(blocks)?;
        let loss = take_u32(blocks)?;
        Some(ReceptionReport {
            reporter_ssrc,
            source_ssrc,
            fraction_lost: loss.to_be_bytes()[0],
            // Shift the 24-bit field to the top, then back with an arithmetic shift.
            cumulative_lost: ((loss << 8) as i32) >> 8,
            extended_highest_sequence: take_u32(blocks)?,
            jitter: take_u32(blocks)?,
            last_sender_report: take_u32(blocks)?,
            delay_since_last_sender_report: take_u32(blocks)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_lost_is_sign_extended() {
        let mut block = [0u8; BLOCK_LEN];
        block[4..8].copy_from_slice(&[0x40, 0xff, 0xff, 0xfe]);
        let report = ReceptionReport::take(1, &mut &block[..]).unwrap();
        assert_eq!(report.fraction_lost, 0x40);
        assert_eq!(report.cumulative_lost, -2);

        block[4..8].copy_from_slice(&[0x00, 0x7f, 0xff, 0xff]);
        let report = ReceptionReport::take(1, &mut &block[..]).unwrap();
        assert_eq!(report.cumulative_lost, 0x7f_ffff);

        block[4..8].copy_from_slice(&[0x00, 0x80, 0x00, 0x00]);
        let report = ReceptionReport::take(1, &mut &block[..]).unwrap();
        assert_eq!(report.cumulative_lost, -0x80_0000);
    }

    #[test]
    fn a_short_block_is_not_taken() {
        let block = [0u8; BLOCK_LEN - 1];
        assert_eq!(ReceptionReport::take(1, &mut &block[..]), None);
    }
}
