//! Why peers' timers fired: a count per str0m timeout reason, to show what still wakes a peer
//! that receives no datagram.

use str0m::Reason;

/// Names of the counted reasons, in the order of [`WakeupReasons::counts`]; str0m's pacer
/// reasons are counted together, and reasons newer than this list as `other`.
pub const WAKEUP_REASONS: [&str; 15] = [
    "dtls",
    "ice",
    "sctp",
    "channel",
    "stats",
    "feedback",
    "nack",
    "twcc",
    "pause_check",
    "send_stream",
    "receive_reorder",
    "pacer",
    "bwe",
    "not_happening",
    "other",
];

/// Timer wake-ups of a shard's peers, by the reason str0m gave for the timeout that fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WakeupReasons {
    /// Wake-ups per reason, indexed like [`WAKEUP_REASONS`].
    pub counts: [u64; WAKEUP_REASONS.len()],
}

impl WakeupReasons {
    /// Counts one wake-up for `reason`.
    pub(crate) fn record(&mut self, reason: Reason) {
        self.counts[index_of(reason)] += 1;
    }

    /// `(reason, wake-ups)` for every reason that woke a peer, most frequent first.
    pub fn ranked(&self) -> Vec<(&'static str, u64)> {
        let mut ranked: Vec<(&'static str, u64)> = WAKEUP_REASONS
            .iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| (*name, count))
            .collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
        ranked
    }

    /// Adds another shard's counts (for engine-wide totals).
    pub fn add(&mut self, other: &WakeupReasons) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }
}

fn index_of(reason: Reason) -> usize {
    match reason {
        Reason::DTLS => 0,
        Reason::Ice => 1,
        Reason::Sctp => 2,
        Reason::Channel => 3,
        Reason::Stats => 4,
        Reason::Feedback => 5,
        Reason::Nack => 6,
        Reason::Twcc => 7,
        Reason::PauseCheck => 8,
        Reason::SendStream => 9,
        Reason::ReceiveReorder => 10,
        Reason::Pacer(_) => 11,
        Reason::BweDelayControl | Reason::BweProbeControl | Reason::BweProbeEstimator => 12,
        Reason::NotHappening => 13,
        _ => 14,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_under_their_names_and_ranked() {
        let mut wakeups = WakeupReasons::default();
        for _ in 0..3 {
            wakeups.record(Reason::Twcc);
        }
        wakeups.record(Reason::Feedback);
        wakeups.record(Reason::Packetize);
        let mut total = WakeupReasons::default();
        total.add(&wakeups);
        total.add(&wakeups);
        assert_eq!(
            total.ranked(),
            vec![("twcc", 6), ("feedback", 2), ("other", 2)]
        );
    }
}
