//! Helpers shared by the integration tests: an owned view of parsed feedback, packet
//! boundaries, and a deterministic random generator.

#![allow(dead_code)] // Each test binary uses its own subset.

use weft_rtcp::{Feedback, Fir, ParseError, Pli, ReceptionReport, parse};

/// One yielded item, owned, so that whole parses compare with `assert_eq!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Report(ReceptionReport),
    Nack {
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: Vec<u16>,
    },
    Pli(Pli),
    Fir(Fir),
    Error(ParseError),
}

/// Everything `parse` yields for `compound`, checking on the way that an error comes last
/// and that the iterator stays ended.
pub fn items(compound: &[u8]) -> Vec<Item> {
    let mut feedbacks = parse(compound);
    let mut items = Vec::new();
    // Every item but an error takes at least 8 bytes of input (a FIR entry).
    let bound = compound.len() / 8 + 1;
    for result in feedbacks.by_ref().take(bound) {
        items.push(match result {
            Ok(Feedback::ReceptionReport(report)) => Item::Report(report),
            Ok(Feedback::Nack(nack)) => {
                let lost_bound = compound.len() / 4 * 17;
                let lost: Vec<u16> = nack.lost().take(lost_bound + 1).collect();
                assert!(
                    lost.len() <= lost_bound,
                    "a NACK yields more than 17 per entry"
                );
                Item::Nack {
                    sender_ssrc: nack.sender_ssrc,
                    media_ssrc: nack.media_ssrc,
                    lost,
                }
            }
            Ok(Feedback::Pli(pli)) => Item::Pli(pli),
            Ok(Feedback::Fir(fir)) => Item::Fir(fir),
            Err(error) => Item::Error(error),
        });
    }
    assert!(
        feedbacks.next().is_none(),
        "more than {bound} items from {} bytes",
        compound.len()
    );
    assert!(
        feedbacks.next().is_none(),
        "the iterator resumed after ending"
    );
    if let Some(position) = items.iter().position(|item| matches!(item, Item::Error(_))) {
        assert_eq!(position, items.len() - 1, "an error is not the last item");
    }
    items
}

/// The byte offsets where the packets of a well-formed compound packet end.
pub fn packet_ends(compound: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while at < compound.len() {
        let words = usize::from(u16::from_be_bytes([compound[at + 2], compound[at + 3]])) + 1;
        at += words * 4;
        ends.push(at);
    }
    assert_eq!(at, compound.len(), "not a well-formed compound packet");
    ends
}

/// A xorshift64* generator: deterministic, and no dependency.
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> XorShift {
        assert_ne!(seed, 0);
        XorShift(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// The next 16 random bits.
    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// The next random byte.
    pub fn next_u8(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    /// A number in `0..bound`; `bound` must be non-zero.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: usize, denominator: usize) -> bool {
        self.below(denominator) < numerator
    }
}
