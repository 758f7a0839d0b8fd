//! Plain counts of the controller for metrics: legs by state, and join times.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Controller;
use super::legs::{LegKind, LegState};

/// The states a leg can be in, as reported in [`CallsSnapshot::calls`].
pub const CALL_STATES: [&str; 5] = ["resolving", "joining", "ringing", "answering", "active"];

/// Legs by state and reachable endpoints, at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallsSnapshot {
    /// Legs per state, one entry for each of [`CALL_STATES`], in that order.
    pub calls: [usize; CALL_STATES.len()],
    /// Endpoints reachable for calls (online sessions, registered contacts).
    pub reachable: usize,
}

/// Join timing: when each joining leg dialled, and the finished joins.
#[derive(Default)]
pub(super) struct Stats {
    /// Legs on their way into a room, by leg id.
    pub joins: HashMap<String, Instant>,
    /// Times from dial to joined, not yet taken.
    joined: Vec<Duration>,
}

/// The index of `state` in [`CALL_STATES`].
fn state_index(state: LegState) -> usize {
    match state {
        LegState::Resolving => 0,
        LegState::Joining => 1,
        LegState::Ringing => 2,
        LegState::Answering => 3,
        LegState::Active => 4,
    }
}

impl Controller {
    /// Legs by state, now.
    pub fn snapshot(&self) -> CallsSnapshot {
        let mut snapshot = CallsSnapshot {
            reachable: self.presence.len(),
            ..CallsSnapshot::default()
        };
        for leg in self.legs.values() {
            snapshot.calls[state_index(leg.state)] += 1;
        }
        snapshot
    }

    /// Times from dial to joined for the room joins finished since the last call.
    pub fn take_join_times(&mut self) -> impl Iterator<Item = Duration> + '_ {
        self.stats.joined.drain(..)
    }

    /// After a dial: starts timing `id` if it is a new leg on its way in.
    pub(super) fn join_started(&mut self, now: Instant, id: &str) {
        let joining = self
            .legs
            .get(id)
            .is_some_and(|l| matches!(l.state, LegState::Resolving | LegState::Joining));
        if joining {
            self.stats.joins.insert(id.to_owned(), now);
        }
    }

    /// After a media join: records the join time if `id` is now in its video room.
    pub(super) fn join_finished(&mut self, now: Instant, id: &str) {
        let in_room = self
            .legs
            .get(id)
            .is_some_and(|l| l.kind == LegKind::Room && l.state == LegState::Active);
        if in_room && let Some(started) = self.stats.joins.remove(id) {
            self.stats
                .joined
                .push(now.saturating_duration_since(started));
        }
    }
}
