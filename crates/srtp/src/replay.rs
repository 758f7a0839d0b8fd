//! The per-stream replay window of RFC 3711 §3.3.2, and the packet index estimate of
//! RFC 3711 §3.3.1 / Appendix A that it anchors.

use crate::error::SrtpError;

/// Packets the window remembers behind the highest index.
pub(crate) const WINDOW_LEN: u64 = 64;

/// Largest SRTP packet index: 48 bits (32-bit rollover counter, 16-bit sequence number).
const MAX_RTP_INDEX: u64 = (1 << 48) - 1;

/// A 64-packet sliding window over packet indices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted so far, if any.
    highest: Option<u64>,
    /// Bit `n` set: index `highest - n` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// Highest index accepted so far.
    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `index` may still be accepted: new, and not behind the window.
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        let behind = highest - index;
        if behind >= WINDOW_LEN {
            Err(SrtpError::TooOld)
        } else if self.seen & (1 << behind) != 0 {
            Err(SrtpError::Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `index` as received, sliding the window forward if it is the new highest.
    pub(crate) fn accept(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => {
                let behind = highest - index;
                if behind < WINDOW_LEN {
                    self.seen |= 1 << behind;
                }
            }
            Some(highest) => {
                let ahead = index - highest;
                self.seen = if ahead >= WINDOW_LEN {
                    1
                } else {
                    (self.seen << ahead) | 1
                };
                self.highest = Some(index);
            }
            None => {
                self.seen = 1;
                self.highest = Some(index);
            }
        }
    }

    /// The 48-bit SRTP packet index of sequence number `sequence`, guessing its rollover
    /// counter from the highest index so far (RFC 3711 Appendix A).
    ///
    /// The first packet of a stream has rollover counter 0 (RFC 3711 §3.3.1).
    pub(crate) fn estimate_rtp_index(&self, sequence: u16) -> Result<u64, SrtpError> {
        let Some(highest) = self.highest else {
            return Ok(u64::from(sequence));
        };
        let roc = highest >> 16;
        let last = highest & 0xffff;
        let sequence = u64::from(sequence);
        let guessed_roc = if last < 0x8000 {
            if sequence > last + 0x8000 {
                // A late packet from before the last wrap.
                roc.checked_sub(1).ok_or(SrtpError::TooOld)?
            } else {
                roc
            }
        } else if sequence + 0x8000 < last {
            // The sequence number wrapped.
            roc + 1
        } else {
            roc
        };
        let index = (guessed_roc << 16) | sequence;
        if index > MAX_RTP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window_with(indices: &[u64]) -> ReplayWindow {
        let mut window = ReplayWindow::default();
        for &index in indices {
            window.check(index).unwrap();
            window.accept(index);
        }
        window
    }

    #[test]
    fn accepts_each_index_once() {
        let window = window_with(&[5, 7, 6]);
        assert_eq!(window.highest(), Some(7));
        for index in [5, 6, 7] {
            assert_eq!(window.check(index), Err(SrtpError::Replayed));
        }
        for index in [0, 1, 2, 3, 4, 8, 1000] {
            assert_eq!(window.check(index), Ok(()));
        }
    }

    #[test]
    fn forgets_what_falls_behind_64_packets() {
        let window = window_with(&[100, 163]);
        assert_eq!(window.check(100), Err(SrtpError::Replayed));
        assert_eq!(window.check(99), Err(SrtpError::TooOld));
        assert_eq!(window.check(101), Ok(()));

        let window = window_with(&[100, 164]);
        assert_eq!(window.check(100), Err(SrtpError::TooOld));
        assert_eq!(window.check(101), Ok(()));
        assert_eq!(window.check(164), Err(SrtpError::Replayed));

        let window = window_with(&[100, 1_000_000]);
        assert_eq!(window.check(1_000_000 - 63), Ok(()));
        assert_eq!(window.check(1_000_000 - 64), Err(SrtpError::TooOld));
    }

    #[test]
    fn index_zero_is_a_valid_first_index() {
        let window = window_with(&[0]);
        assert_eq!(window.check(0), Err(SrtpError::Replayed));
        assert_eq!(window.check(1), Ok(()));
    }

    #[test]
    fn estimates_the_rollover_counter() {
        let fresh = ReplayWindow::default();
        assert_eq!(fresh.estimate_rtp_index(65_535), Ok(65_535));

        // Highest is ROC 0, sequence 65530: a small sequence number wrapped.
        let window = window_with(&[65_530]);
        assert_eq!(window.estimate_rtp_index(65_535), Ok(65_535));
        assert_eq!(window.estimate_rtp_index(3), Ok(0x1_0003));
        assert_eq!(
            window.estimate_rtp_index(65_530 - 0x8000),
            Ok(65_530 - 0x8000)
        );

        // Highest is ROC 1, sequence 3: a large sequence number is a late packet of ROC 0.
        let window = window_with(&[0x1_0003]);
        assert_eq!(window.estimate_rtp_index(65_534), Ok(65_534));
        assert_eq!(window.estimate_rtp_index(10), Ok(0x1_000a));
        assert_eq!(window.estimate_rtp_index(0x8003), Ok(0x1_8003));

        // With ROC 0 there is nothing before the first wrap.
        let window = window_with(&[3]);
        assert_eq!(window.estimate_rtp_index(65_534), Err(SrtpError::TooOld));
    }

    #[test]
    fn the_rollover_counter_ends_at_32_bits() {
        let window = window_with(&[MAX_RTP_INDEX - 10]);
        assert_eq!(window.estimate_rtp_index(65_535), Ok(MAX_RTP_INDEX));
        assert_eq!(window.estimate_rtp_index(0), Err(SrtpError::KeyExhausted));
    }
}
