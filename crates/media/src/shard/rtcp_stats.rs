//! RTCP feedback counts (NACK, PLI, FIR, in and out) from str0m's periodic per-stream stats,
//! which are totals per stream: each peer remembers the last totals and adds the growth.

use std::collections::HashMap;

use str0m::media::{Mid, Rid};
use str0m::stats::{MediaEgressStats, MediaIngressStats};

use super::counters::ShardCounters;

/// The last totals seen per stream of one peer.
#[derive(Default)]
pub(crate) struct FeedbackTotals {
    /// `[nacks, plis, firs]` per `(mid, rid, egress)`.
    seen: HashMap<(Mid, Option<Rid>, bool), [u64; 3]>,
}

impl FeedbackTotals {
    /// A send stream's stats: the feedback the member sent us.
    pub(crate) fn egress(&mut self, s: &MediaEgressStats, counters: &mut ShardCounters) {
        let growth = self.growth((s.mid, s.rid, true), [s.nacks, s.plis, s.firs]);
        add(&mut counters.rtcp_in, growth);
    }

    /// A receive stream's stats: the feedback we sent the member.
    pub(crate) fn ingress(&mut self, s: &MediaIngressStats, counters: &mut ShardCounters) {
        let growth = self.growth((s.mid, s.rid, false), [s.nacks, s.plis, s.firs]);
        add(&mut counters.rtcp_out, growth);
    }

    fn growth(&mut self, key: (Mid, Option<Rid>, bool), totals: [u64; 3]) -> [u64; 3] {
        let last = self.seen.insert(key, totals).unwrap_or_default();
        std::array::from_fn(|i| totals[i].saturating_sub(last[i]))
    }
}

fn add(sum: &mut [u64; 3], more: [u64; 3]) {
    for (s, m) in sum.iter_mut().zip(more) {
        *s += m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_growth_of_each_stream_is_counted() {
        let mut totals = FeedbackTotals::default();
        let mut counters = ShardCounters::default();
        let a = (Mid::from("0"), None, true);
        let b = (Mid::from("1"), None, true);
        add(&mut counters.rtcp_in, totals.growth(a, [3, 1, 0]));
        add(&mut counters.rtcp_in, totals.growth(b, [2, 0, 0]));
        add(&mut counters.rtcp_in, totals.growth(a, [5, 1, 1]));
        assert_eq!(counters.rtcp_in, [7, 1, 1]);
    }
}
