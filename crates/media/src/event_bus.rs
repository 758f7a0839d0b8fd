//! How engine events reach their receivers: control events (member state, talking, speakers,
//! keyframes, layers, key presses) are never dropped; the once-a-second stats travel apart and
//! a receiver that falls behind loses the oldest of them only.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{broadcast, mpsc};

use crate::event::MediaEvent;

/// Stats events kept for a receiver that falls behind; older ones are dropped (and counted).
const STATS_CAPACITY: usize = 4096;

/// The sending side, shared by the engine and its shards.
#[derive(Clone)]
pub(crate) struct EventBus {
    control: Arc<Mutex<Vec<mpsc::UnboundedSender<MediaEvent>>>>,
    stats: broadcast::Sender<MediaEvent>,
}

impl EventBus {
    pub(crate) fn new() -> Self {
        Self {
            control: Arc::default(),
            stats: broadcast::channel(STATS_CAPACITY).0,
        }
    }

    /// Delivers `event` to every receiver: a control event to each one's unbounded queue, a stats
    /// event to the bounded stats channel. Receivers that were dropped are forgotten.
    pub(crate) fn emit(&self, event: MediaEvent) {
        if matches!(event, MediaEvent::Stats { .. }) {
            let _ = self.stats.send(event);
            return;
        }
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        control.retain(|receiver| receiver.send(event.clone()).is_ok());
    }

    /// Whether anyone receives stats (the shards skip building them otherwise).
    pub(crate) fn stats_wanted(&self) -> bool {
        self.stats.receiver_count() > 0
    }

    /// A new receiver of every event emitted from now on.
    pub(crate) fn subscribe(&self) -> EventReceiver {
        let (sender, control) = mpsc::unbounded_channel();
        self.control
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sender);
        EventReceiver {
            control,
            stats: self.stats.subscribe(),
            stats_lost: 0,
        }
    }
}

/// One receiver of the engine's events ([`crate::MediaEngine::events`]).
///
/// Control events arrive in the order each shard emitted them, all of them: the receiver's queue
/// is unbounded, so a receiver must keep reading (or be dropped). Stats events come after any
/// waiting control events; when more than 4096 wait, the oldest are dropped and counted in
/// [`EventReceiver::stats_lost`].
pub struct EventReceiver {
    control: mpsc::UnboundedReceiver<MediaEvent>,
    stats: broadcast::Receiver<MediaEvent>,
    stats_lost: u64,
}

impl EventReceiver {
    /// The next event; `None` once the engine and its shards are gone and every control event
    /// was taken.
    pub async fn recv(&mut self) -> Option<MediaEvent> {
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => return control,
                stats = self.stats.recv() => match stats {
                    Ok(event) => return Some(event),
                    Err(broadcast::error::RecvError::Lagged(lost)) => self.stats_lost += lost,
                    // The stats channel lives as long as the bus; the control side says when
                    // the engine is gone.
                    Err(broadcast::error::RecvError::Closed) => return self.control.recv().await,
                },
            }
        }
    }

    /// The next event if one is waiting (control events first).
    pub fn try_recv(&mut self) -> Option<MediaEvent> {
        if let Ok(event) = self.control.try_recv() {
            return Some(event);
        }
        loop {
            match self.stats.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(lost)) => self.stats_lost += lost,
                Err(_) => return None,
            }
        }
    }

    /// Stats events this receiver lost because it fell behind.
    pub fn stats_lost(&self) -> u64 {
        self.stats_lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MemberState, MemberStats};
    use crate::ids::{MemberId, RoomId};

    fn keyframe(n: usize) -> MediaEvent {
        MediaEvent::KeyframeRequested {
            room: RoomId::from("r"),
            member: MemberId::from(format!("m{n}")),
        }
    }

    fn stats() -> MediaEvent {
        MediaEvent::Stats {
            room: RoomId::from("r"),
            member: MemberId::from("m"),
            stats: MemberStats::default(),
        }
    }

    #[test]
    fn a_slow_receiver_gets_every_control_event_in_order_and_loses_only_old_stats() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe();
        let events = 3 * STATS_CAPACITY;
        for n in 0..events {
            bus.emit(stats());
            bus.emit(keyframe(n));
        }
        bus.emit(MediaEvent::MemberState {
            room: RoomId::from("r"),
            member: MemberId::from("gone"),
            state: MemberState::Closed,
        });
        for n in 0..events {
            assert_eq!(slow.try_recv(), Some(keyframe(n)), "control event {n}");
        }
        assert!(matches!(
            slow.try_recv(),
            Some(MediaEvent::MemberState {
                state: MemberState::Closed,
                ..
            })
        ));
        let mut stats_taken = 0;
        while let Some(event) = slow.try_recv() {
            assert_eq!(event, stats());
            stats_taken += 1;
        }
        assert_eq!(stats_taken, STATS_CAPACITY);
        assert_eq!(slow.stats_lost(), (events - STATS_CAPACITY) as u64);
    }

    #[test]
    fn dropped_receivers_are_forgotten_and_the_others_end_with_the_bus() {
        let bus = EventBus::new();
        let dropped = bus.subscribe();
        let mut kept = bus.subscribe();
        drop(dropped);
        bus.emit(keyframe(1));
        assert_eq!(bus.control.lock().unwrap().len(), 1);
        drop(bus);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(rt.block_on(kept.recv()), Some(keyframe(1)));
        assert_eq!(rt.block_on(kept.recv()), None);
    }
}
