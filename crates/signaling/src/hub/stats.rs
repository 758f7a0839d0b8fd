//! Plain counts of the hub for metrics: call legs by state, sessions, and join times.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Hub;
use super::calls::{LegKind, LegState};
#[cfg(doc)]
use crate::observe::CALL_STATES;
use crate::observe::HubSnapshot;

/// Join timing: when each joining leg's `verto.invite` arrived, and the finished joins.
#[derive(Default)]
pub(super) struct Stats {
    /// Legs on their way into a room, by callID.
    pub joins: HashMap<String, Instant>,
    /// Times from invite to joined, not yet taken.
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

impl Hub {
    /// Sessions and calls by state, now.
    pub fn snapshot(&self) -> HubSnapshot {
        let mut snapshot = HubSnapshot::default();
        for session in self.sessions.values() {
            if session.conn.is_some() {
                snapshot.sessions_connected += 1;
            } else {
                snapshot.sessions_detached += 1;
            }
        }
        for leg in self.legs.values() {
            snapshot.calls[state_index(leg.state)] += 1;
        }
        snapshot
    }

    /// Times from `verto.invite` to joined for the room joins finished since the last call.
    pub fn take_join_times(&mut self) -> impl Iterator<Item = Duration> + '_ {
        self.stats.joined.drain(..)
    }

    /// After an invite: starts timing `call_id` if it is a new leg on its way in.
    pub(super) fn join_started(&mut self, now: Instant, call_id: String) {
        let joining = self
            .legs
            .get(&call_id)
            .is_some_and(|l| matches!(l.state, LegState::Resolving | LegState::Joining));
        if joining {
            self.stats.joins.insert(call_id, now);
        }
    }

    /// After a media join: records the join time if `call_id` is now in its video room.
    pub(super) fn join_finished(&mut self, now: Instant, call_id: &str) {
        let in_room = self
            .legs
            .get(call_id)
            .is_some_and(|l| l.kind == LegKind::Room && l.state == LegState::Active);
        if in_room && let Some(started) = self.stats.joins.remove(call_id) {
            self.stats
                .joined
                .push(now.saturating_duration_since(started));
        }
    }
}
