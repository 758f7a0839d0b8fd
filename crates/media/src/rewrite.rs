//! Sequence-number and timestamp rewriting, so each subscriber slot sees one continuous stream
//! even when its source changes (late join, simulcast layer or speaker switch).

use std::time::Instant;

/// Rewrites one outgoing stream's sequence numbers (extended, 64-bit) and RTP timestamps.
#[derive(Debug, Clone, Default)]
pub struct StreamRewriter {
    mapping: Option<Mapping>,
    last: Option<Last>,
    rebase: bool,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    seq_offset: i64,
    ts_offset: u32,
    /// Outgoing sequence numbers below this belong to an earlier source and are dropped.
    floor: u64,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    seq: u64,
    ts: u32,
    at: Instant,
}

impl StreamRewriter {
    /// Makes the next packet start a new mapping that continues the previous output
    /// (call when the source changes).
    pub fn switch_source(&mut self) {
        self.rebase = true;
    }

    /// Maps an incoming `(seq, timestamp)` received at `now` to the outgoing pair, or `None` for a
    /// packet that would go backwards across a switch. `clock_rate` is the codec's RTP clock.
    pub fn map(&mut self, seq: u64, ts: u32, now: Instant, clock_rate: u32) -> Option<(u64, u32)> {
        let mapping = match (self.mapping, self.rebase) {
            (Some(m), false) => m,
            _ => {
                let m = self.new_mapping(seq, ts, now, clock_rate);
                self.mapping = Some(m);
                self.rebase = false;
                m
            }
        };
        let out_seq = seq as i64 + mapping.seq_offset;
        if out_seq < 0 || (out_seq as u64) < mapping.floor {
            return None;
        }
        let out_seq = out_seq as u64;
        let out_ts = ts.wrapping_add(mapping.ts_offset);
        if self.last.is_none_or(|l| out_seq > l.seq) {
            self.last = Some(Last {
                seq: out_seq,
                ts: out_ts,
                at: now,
            });
        }
        Some((out_seq, out_ts))
    }

    /// The incoming extended sequence number that was mapped to the outgoing 16-bit sequence
    /// number `out_seq` (as a subscriber's NACK names it), if it belongs to the current mapping:
    /// `out_seq` is unwrapped to the nearest value at or before the last output, and is refused
    /// if it is after it, from an earlier source, or a switch is pending (the next packet starts
    /// a new mapping).
    pub fn source_seq(&self, out_seq: u16) -> Option<u64> {
        let (mapping, last) = self.current()?;
        let behind = (last.seq as u16).wrapping_sub(out_seq);
        if behind >= 0x8000 {
            return None;
        }
        let out_seq = last.seq.checked_sub(u64::from(behind))?;
        if out_seq < mapping.floor {
            return None;
        }
        let seq = i64::try_from(out_seq)
            .ok()?
            .checked_sub(mapping.seq_offset)?;
        u64::try_from(seq).ok()
    }

    /// The outgoing RTP timestamp of incoming timestamp `ts` under the current mapping (what
    /// [`map`](StreamRewriter::map) gave a packet of the current source), or `None` if there is
    /// no mapping or a switch is pending.
    pub fn out_ts(&self, ts: u32) -> Option<u32> {
        let (mapping, _) = self.current()?;
        Some(ts.wrapping_add(mapping.ts_offset))
    }

    /// The mapping of the current source and the last output, unless a switch is pending.
    fn current(&self) -> Option<(Mapping, Last)> {
        if self.rebase {
            return None;
        }
        Some((self.mapping?, self.last?))
    }

    fn new_mapping(&self, seq: u64, ts: u32, now: Instant, clock_rate: u32) -> Mapping {
        match self.last {
            // First packet ever: keep the 16-bit value the publisher used but start at ROC 0, so the
            // subscriber's SRTP needs no out-of-band ROC.
            None => Mapping {
                seq_offset: (seq & 0xffff) as i64 - seq as i64,
                ts_offset: 0,
                floor: 0,
            },
            Some(last) => {
                let elapsed = now.saturating_duration_since(last.at);
                let ticks = (elapsed.as_secs_f64() * f64::from(clock_rate)) as u32;
                let out_ts = last.ts.wrapping_add(ticks.max(1));
                Mapping {
                    seq_offset: (last.seq + 1) as i64 - seq as i64,
                    ts_offset: out_ts.wrapping_sub(ts),
                    floor: last.seq + 1,
                }
            }
        }
    }
}

/// Rewrites VP8 picture ids so they continue across source switches.
#[derive(Debug, Clone, Default)]
pub struct PictureIdRewriter {
    offset: u16,
    last: Option<u16>,
    rebase: bool,
}

impl PictureIdRewriter {
    /// The next picture id starts a new mapping continuing the previous output.
    pub fn switch_source(&mut self) {
        self.rebase = true;
    }

    /// The outgoing picture id of `picture_id` under the current mapping, without starting a
    /// new one (for resending a packet already mapped).
    pub fn current(&self, picture_id: u16, wide: bool) -> u16 {
        let modulus: u16 = if wide { 0x8000 } else { 0x80 };
        picture_id.wrapping_add(self.offset) % modulus
    }

    /// Maps an incoming picture id (15-bit when `wide`, else 7-bit) to the outgoing one.
    pub fn map(&mut self, picture_id: u16, wide: bool) -> u16 {
        let modulus: u16 = if wide { 0x8000 } else { 0x80 };
        if self.rebase {
            self.rebase = false;
            if let Some(last) = self.last {
                let next = (last.wrapping_add(1)) % modulus;
                self.offset = next.wrapping_sub(picture_id) % modulus;
            }
        }
        let out = picture_id.wrapping_add(self.offset) % modulus;
        self.last = Some(out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn picture_ids_continue_across_a_switch() {
        let mut p = PictureIdRewriter::default();
        assert_eq!(p.map(100, true), 100);
        assert_eq!(p.map(101, true), 101);
        p.switch_source();
        assert_eq!(p.map(7000, true), 102);
        assert_eq!(p.map(7001, true), 103);
        p.switch_source();
        assert_eq!(p.map(0x7fff, true), 104);
        assert_eq!(p.map(0, true), 105);
        p.switch_source();
        assert_eq!(p.map(5, false), 106);
        assert_eq!(p.map(6, false), 107);
    }

    #[test]
    fn first_mapping_drops_the_roc() {
        let mut r = StreamRewriter::default();
        let now = Instant::now();
        assert_eq!(r.map(3 * 65536 + 100, 5000, now, 90000), Some((100, 5000)));
        assert_eq!(r.map(3 * 65536 + 101, 8000, now, 90000), Some((101, 8000)));
    }

    #[test]
    fn switch_continues_sequence_and_time() {
        let mut r = StreamRewriter::default();
        let t0 = Instant::now();
        assert_eq!(r.map(10, 1000, t0, 90000), Some((10, 1000)));
        assert_eq!(r.map(11, 4000, t0, 90000), Some((11, 4000)));
        r.switch_source();
        let t1 = t0 + Duration::from_millis(100);
        let (seq, ts) = r.map(50_000, 777, t1, 90000).unwrap();
        assert_eq!(seq, 12);
        assert_eq!(ts, 4000 + 9000);
        assert_eq!(r.map(50_001, 3777, t1, 90000), Some((13, 13000 + 3000)));
        // A late packet of the new source from before the switch point is dropped.
        assert_eq!(r.map(49_999, 0, t1, 90000), None);
    }

    #[test]
    fn nothing_maps_back_before_the_first_packet() {
        let r = StreamRewriter::default();
        assert_eq!(r.source_seq(0), None);
        assert_eq!(r.out_ts(0), None);
    }

    #[test]
    fn source_seq_inverts_the_current_mapping_only() {
        let mut r = StreamRewriter::default();
        let t0 = Instant::now();
        for seq in 10..20 {
            r.map(seq, 1000 + seq as u32 * 3000, t0, 90000).unwrap();
        }
        assert_eq!(r.source_seq(10), Some(10));
        assert_eq!(r.source_seq(19), Some(19));
        assert_eq!(r.out_ts(1000 + 19 * 3000), Some(1000 + 19 * 3000));
        assert_eq!(r.source_seq(20), None, "after the last output");

        r.switch_source();
        // Until the new source's first packet, the old mapping no longer answers.
        assert_eq!(r.source_seq(19), None);
        assert_eq!(r.out_ts(0), None);

        let t1 = t0 + Duration::from_millis(100);
        let (first, first_ts) = r.map(50_000, 777, t1, 90000).unwrap();
        assert_eq!(first, 20);
        for seq in 50_001..50_010 {
            r.map(seq, 777 + (seq - 50_000) as u32 * 3000, t1, 90000)
                .unwrap();
        }
        for out in 20..30u16 {
            assert_eq!(r.source_seq(out), Some(50_000 + u64::from(out) - 20));
        }
        // The old source's numbers are refused, and so are later ones.
        for out in [0u16, 10, 15, 19, 30, 31, 40_000] {
            assert_eq!(r.source_seq(out), None, "{out}");
        }
        assert_eq!(r.out_ts(777), Some(first_ts));
        assert_eq!(r.out_ts(777 + 3000), Some(first_ts.wrapping_add(3000)));
    }

    #[test]
    fn source_seq_unwraps_across_the_16_bit_wrap() {
        let mut r = StreamRewriter::default();
        let now = Instant::now();
        // The publisher is at ROC 2; the output starts at ROC 0 and wraps 65535 → 0.
        let base = 2 * 65536;
        for seq in base + 65_530..base + 65_540 {
            r.map(seq, 0, now, 90000).unwrap();
        }
        assert_eq!(r.source_seq(65_530), Some(base + 65_530));
        assert_eq!(r.source_seq(65_535), Some(base + 65_535));
        assert_eq!(r.source_seq(0), Some(base + 65_536));
        assert_eq!(r.source_seq(3), Some(base + 65_539));
        assert_eq!(r.source_seq(4), None, "after the last output");
        // Less than half the number space behind the last output is the past, the rest the
        // future: with the last output at 65,536 + 32,767, 0 is the past and 65,535 is not.
        let last = 65_536 + 32_767;
        r.map(base + last, 0, now, 90000).unwrap();
        assert_eq!(r.source_seq(3), Some(base + 65_539));
        assert_eq!(r.source_seq(0), Some(base + 65_536));
        assert_eq!(r.source_seq(65_535), None, "half the space behind");

        // A switch after the wrap: the new mapping's floor is past it.
        r.switch_source();
        assert_eq!(r.map(7, 0, now, 90000).map(|(s, _)| s), Some(last + 1));
        assert_eq!(r.source_seq((last + 1) as u16), Some(7));
        assert_eq!(
            r.source_seq(last as u16),
            None,
            "the earlier source's last packet"
        );
    }

    #[test]
    fn source_seq_agrees_with_map_for_many_packets() {
        let mut r = StreamRewriter::default();
        let t0 = Instant::now();
        let mut sources = [65_000u64, 3 * 65536 + 12, 7 * 65536 + 65_500];
        let mut mapped = Vec::new();
        for step in 0..200_000u64 {
            let now = t0 + Duration::from_millis(step * 10);
            let source = (step / 50_000) as usize % sources.len();
            if step > 0 && step % 50_000 == 0 {
                r.switch_source();
                mapped.clear();
            }
            // Every seventh packet is delivered one place late (reordering within the source).
            let seq = if step % 7 == 3 {
                sources[source] + 1
            } else if step % 7 == 4 {
                sources[source] - 1
            } else {
                sources[source]
            };
            sources[source] += 1;
            let ts = (seq as u32).wrapping_mul(3000);
            let Some((out, out_ts)) = r.map(seq, ts, now, 90000) else {
                continue;
            };
            assert_eq!(r.source_seq(out as u16), Some(seq), "step {step}");
            assert_eq!(r.out_ts(ts), Some(out_ts), "step {step}");
            mapped.push((seq, out));
        }
        assert!(
            mapped.len() > 49_000,
            "the last source ran: {}",
            mapped.len()
        );
        // The last 30,000 outputs of the current source still map back.
        for &(seq, out) in mapped.iter().rev().take(30_000) {
            assert_eq!(r.source_seq(out as u16), Some(seq));
        }
    }
}
