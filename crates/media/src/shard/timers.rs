//! Per-shard timer heap: wakes only the peers whose str0m timeout is due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One scheduled wake-up of a peer (index and generation in the peer slab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due {
    pub at: Instant,
    pub peer: usize,
    pub generation: u32,
}

/// Min-heap of wake-ups. Entries are never removed early: a peer whose timeout moved keeps a stale
/// entry, which the owner recognises (its stored deadline differs) and skips.
#[derive(Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<Due>>,
}

impl TimerHeap {
    pub(crate) fn schedule(&mut self, due: Due) {
        self.heap.push(Reverse(due));
    }

    /// The earliest scheduled wake-up (possibly stale).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    /// Pops the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        match self.heap.peek() {
            Some(Reverse(d)) if d.at <= now => self.heap.pop().map(|Reverse(d)| d),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Replaces all entries (used to drop accumulated stale entries).
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = Due>) {
        self.heap = live.map(Reverse).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            heap.schedule(Due {
                at: t0 + Duration::from_millis(ms),
                peer: i,
                generation: 0,
            });
        }
        assert_eq!(heap.next(), Some(t0 + Duration::from_millis(10)));
        assert!(heap.pop_due(t0).is_none());
        let due = heap.pop_due(t0 + Duration::from_millis(25));
        assert_eq!(due.map(|d| d.peer), Some(1));
        assert_eq!(
            heap.pop_due(t0 + Duration::from_millis(25)).map(|d| d.peer),
            Some(2)
        );
        assert!(heap.pop_due(t0 + Duration::from_millis(25)).is_none());
        assert_eq!(heap.len(), 1);
    }
}
