//! A media worker thread: many peers, one `mio` poll over their sockets, one timer heap. Time
//! comes only from the loop (one `Instant::now()` per turn), never from the peers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::Counters;
use super::peer::{MediaPeer, PeerReport};

/// The token of the worker's waker.
pub const WAKER: Token = Token(usize::MAX);

/// Longest sleep when nothing is due.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Datagram buffer size (larger than any loopback datagram str0m sends).
const BUF: usize = 2048;

/// What the driver asks of a worker.
pub enum Command {
    /// Take over a connected-to-be peer.
    Add(Box<MediaPeer>),
    /// Close every peer and return their reports.
    Stop,
}

/// A peer slot: the peer and its one valid timer entry (by generation).
struct Slot {
    peer: MediaPeer,
    generation: u64,
    scheduled: Instant,
    /// The valid entry is still in the heap.
    armed: bool,
}

/// The worker's state.
pub struct Worker {
    poll: Poll,
    inbox: Receiver<Command>,
    counters: Arc<Counters>,
    slots: Vec<Option<Slot>>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    reports: Vec<PeerReport>,
}

impl Worker {
    /// A worker polling `poll`, taking commands from `inbox`.
    pub fn new(poll: Poll, inbox: Receiver<Command>, counters: Arc<Counters>) -> Self {
        Self {
            poll,
            inbox,
            counters,
            slots: Vec::new(),
            timers: BinaryHeap::new(),
            reports: Vec::new(),
        }
    }

    /// Runs until [`Command::Stop`] (or the driver is gone); returns every peer's report.
    pub fn run(mut self) -> Vec<PeerReport> {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; BUF];
        loop {
            let now = Instant::now();
            let wait = self
                .timers
                .peek()
                .map_or(MAX_WAIT, |Reverse((at, _, _))| {
                    at.saturating_duration_since(now)
                })
                .min(MAX_WAIT);
            if self.poll.poll(&mut events, Some(wait)).is_err() {
                events.clear();
            }
            let now = Instant::now();
            let mut woken = false;
            for event in events.iter() {
                if event.token() == WAKER {
                    woken = true;
                    continue;
                }
                let index = event.token().0;
                self.with_peer(index, |peer, counters| {
                    peer.read_socket(&mut buf, now, counters)
                });
                self.reschedule(index);
            }
            if woken && !self.take_commands(now) {
                break;
            }
            self.run_timers(now);
        }
        let now = Instant::now();
        for index in 0..self.slots.len() {
            self.with_peer(index, |peer, counters| peer.shutdown(now, counters));
            if let Some(slot) = self.slots[index].take() {
                self.reports.push(slot.peer.report());
            }
        }
        self.reports
    }

    /// Handles queued commands; `false` to stop.
    fn take_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.inbox.try_recv() {
                Ok(Command::Add(peer)) => self.add(*peer, now),
                Ok(Command::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn add(&mut self, mut peer: MediaPeer, now: Instant) {
        let index = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
        if self
            .poll
            .registry()
            .register(&mut peer.socket, Token(index), Interest::READABLE)
            .is_err()
        {
            self.reports.push(peer.report());
            return;
        }
        self.slots[index] = Some(Slot {
            peer,
            generation: 0,
            scheduled: now,
            armed: false,
        });
        self.with_peer(index, |peer, counters| peer.tick(now, counters));
        self.reschedule(index);
    }

    /// Serves the timers due now, only those queued before this pass: a peer that asks to be
    /// woken at once is served on the next turn, after the clock moved and sockets were read.
    fn run_timers(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(Reverse((at, index, generation))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push((index, generation));
        }
        for (index, generation) in due {
            match self.slots.get_mut(index).and_then(Option::as_mut) {
                Some(slot) if slot.generation == generation => slot.armed = false,
                _ => continue,
            }
            self.with_peer(index, |peer, counters| peer.tick(now, counters));
            self.reschedule(index);
        }
    }

    /// Runs `f` on the peer at `index`, isolating a panic to that peer (it is dropped).
    fn with_peer(&mut self, index: usize, f: impl FnOnce(&mut MediaPeer, &Counters)) {
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let counters = &self.counters;
        let peer = &mut slot.peer;
        if catch_unwind(AssertUnwindSafe(|| f(peer, counters))).is_err() {
            self.counters
                .panics
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.retire(index);
        }
    }

    /// Re-arms the peer's timer after it ran (or retires a dead peer).
    fn reschedule(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if !slot.peer.alive() {
            return self.retire(index);
        }
        let at = slot.peer.next_wake();
        if slot.armed && at == slot.scheduled {
            return;
        }
        slot.generation += 1;
        slot.scheduled = at;
        slot.armed = true;
        self.timers.push(Reverse((at, index, slot.generation)));
    }

    fn retire(&mut self, index: usize) {
        if let Some(mut slot) = self.slots.get_mut(index).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut slot.peer.socket);
            self.reports.push(slot.peer.report());
        }
    }
}
