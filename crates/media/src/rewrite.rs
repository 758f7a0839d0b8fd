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
}
