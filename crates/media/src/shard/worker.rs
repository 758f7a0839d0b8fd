//! The shard thread: its loop over the socket, timers and commands, reading datagrams in
//! groups, and settling the work they cause.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::Input;
use str0m::net::{DatagramRecv, Protocol, Receive};

use super::counters::ShardCounters;
use super::demux::{Demux, Match};
use super::drive::{drive, read_egress_feedback};
use super::feeds::Feed;
use super::io::{Io, Queues};
use super::leg_crypto::is_rtcp;
use super::outbox::Outbox;
use super::peer::{Peer, Transport};
use super::relay::{RelayBatch, RelayOut};
use super::room::Room;
use super::slab::Slab;
use super::tcp::{TCP_CONNS, Tcp};
use super::timers::{Due, TimerHeap};
use super::{Command, ShardSetup};
use crate::directory::Directory;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::ids::{MemberId, RoomId};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
/// Plain-RTP leg sockets use `Token(LEGS + peer index)`; TCP connections `Token(TCP_CONNS + i)`.
pub(super) const LEGS: usize = 16;
/// Largest datagram read; bigger ones are truncated and rejected by str0m.
const RECV_BUFFER: usize = 2048;
/// Most datagrams handled between two flushes of queued writes.
const FLUSH_EVERY: usize = 64;
/// Datagrams a group of received datagrams should cause while the shard keeps up: with large
/// fan-outs the groups shrink (down to one received datagram), so the last copy leaves soon after
/// the first.
const MIN_FANOUT_BUDGET: u64 = 128;
/// The budget under sustained load. Each loop turn that ends with datagrams still waiting
/// ([`GROUPS_PER_TURN`] groups read and the socket not drained) doubles the budget up to this; a
/// drained socket resets it. A shard that keeps up drains its socket within a turn, so its groups
/// stay at one publisher packet (the latency of the last copy stays at one fan-out). Bigger groups tick each subscriber's `Rtc` once
/// for several packets and let GSO join a subscriber's packets into one send: under load that
/// buys throughput with latency the backlog would cost anyway.
const MAX_FANOUT_BUDGET: u64 = 1024;
/// Most groups read from the socket in one loop turn: under sustained load the socket never runs
/// empty, and commands, timers and the mixer must still get their turn.
const GROUPS_PER_TURN: usize = 8;
/// Interval of keyframe retries, speech and connect-timeout checks, stats.
const HOUSEKEEPING: Duration = Duration::from_millis(50);
/// A member that has not connected by then is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// How late a peer timer or housekeeping may run so that one wake-up serves several: str0m's
/// NACK, TWCC-feedback, RTCP and stats timers of hundreds of peers would otherwise each wake the
/// shard (about 170 wake-ups a second for 100 idle subscribers, each a context switch). None of
/// them needs millisecond precision; the mixer's 20 ms frames keep their exact schedule.
const TIMER_SLACK: Duration = Duration::from_millis(10);

/// One shard's state; runs on its own thread.
pub(crate) struct Worker {
    pub(super) index: usize,
    pub(super) poll: Poll,
    pub(super) waker: Arc<Waker>,
    pub(super) inbox: mpsc::Receiver<Command>,
    /// The candidate address(es) peers send to, used as `Receive::destination`.
    pub(super) advertised: Vec<SocketAddr>,
    /// The passive TCP candidate address(es), when ICE-TCP is on.
    pub(super) advertised_tcp: Vec<SocketAddr>,
    /// Passive ICE-TCP listener and connections, when ICE-TCP is on.
    pub(super) tcp: Option<Tcp>,
    pub(super) peers: Slab<Peer>,
    pub(super) rooms: Slab<Room>,
    pub(super) room_ids: HashMap<RoomId, usize>,
    pub(super) members: HashMap<MemberId, usize>,
    /// Remote members: (owning shard, its peer index) to the local peer index.
    pub(super) proxies: HashMap<(usize, usize), usize>,
    /// Messages from the other shards.
    pub(super) relays: mpsc::Receiver<RelayBatch>,
    pub(super) demux: Demux,
    pub(super) timers: TimerHeap,
    pub(super) directory: Arc<Directory>,
    pub(super) io: Io,
    pub(super) last_n: usize,
    /// The phase the last new mixer got within the mix interval (see `schedule_mixes`).
    pub(super) mix_phase: Duration,
    /// Source members (see [`super::feeds`]), and their index by member id.
    pub(super) feeds: Slab<Feed>,
    pub(super) feed_ids: HashMap<MemberId, usize>,
    /// When the sources' next frames are due (one tick for all of them).
    pub(super) next_feed: Option<Instant>,
    pub(super) buf: Vec<u8>,
    pub(super) stopping: bool,
    pub(super) next_stats: Instant,
    /// Received datagrams per group, adapted to the fan-out they cause (see [`MIN_FANOUT_BUDGET`]).
    pub(super) group_limit: usize,
    /// Datagrams a group may cause, between [`MIN_FANOUT_BUDGET`] and [`MAX_FANOUT_BUDGET`].
    pub(super) fanout_budget: u64,
    /// The socket may hold more datagrams than the last turn read.
    pub(super) backlog: bool,
    /// The learning window of plain-RTP legs (see [`super::latch`]).
    pub(super) latch_window: Duration,
    /// Video sources keep a retransmission ring for Weft-owned egress.
    pub(super) owned_egress: bool,
    /// Legs to read this turn: readable, or holding more than their last turn's share.
    pub(super) legs_ready: Vec<usize>,
    /// The legs being read (kept to reuse its memory).
    pub(super) legs_reading: Vec<usize>,
}

impl Worker {
    pub(super) fn new(
        setup: ShardSetup,
        inbox: mpsc::Receiver<Command>,
    ) -> Result<Self, MediaError> {
        let config_err =
            |e: std::io::Error| MediaError::Config(format!("shard {}: {e}", setup.index));
        setup.socket.set_nonblocking(true).map_err(config_err)?;
        let mut socket = UdpSocket::from_std(setup.socket);
        let poll = Poll::new().map_err(config_err)?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)
            .map_err(config_err)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(config_err)?);
        let tcp = match setup.tcp {
            Some(listener) => {
                listener.set_nonblocking(true).map_err(config_err)?;
                let mut tcp = Tcp::new(mio::net::TcpListener::from_std(listener));
                poll.registry()
                    .register(tcp.listener(), LISTENER, Interest::READABLE)
                    .map_err(config_err)?;
                Some(tcp)
            }
            None => None,
        };
        Ok(Self {
            index: setup.index,
            poll,
            waker,
            inbox,
            advertised: setup.advertised,
            advertised_tcp: setup.advertised_tcp,
            tcp,
            peers: Slab::default(),
            rooms: Slab::default(),
            room_ids: HashMap::new(),
            members: HashMap::new(),
            proxies: HashMap::new(),
            relays: setup.relays,
            demux: Demux::default(),
            timers: TimerHeap::default(),
            directory: setup.directory,
            io: Io {
                outbox: Outbox::new(&socket),
                socket,
                events: setup.events,
                queues: Queues::default(),
                counters: ShardCounters::default(),
                relay: RelayOut::default(),
                interest_changed: false,
            },
            last_n: setup.last_n,
            mix_phase: Duration::ZERO,
            feeds: Slab::default(),
            feed_ids: HashMap::new(),
            next_feed: None,
            buf: vec![0; RECV_BUFFER],
            stopping: false,
            next_stats: Instant::now() + STATS_INTERVAL,
            group_limit: FLUSH_EVERY,
            fanout_budget: MIN_FANOUT_BUDGET,
            backlog: false,
            latch_window: setup.latch_window,
            owned_egress: setup.owned_egress,
            legs_ready: Vec::new(),
            legs_reading: Vec::new(),
        })
    }

    pub(super) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// The shard loop; returns on `Command::Shutdown` or when the engine is gone.
    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        while !self.stopping {
            let now = Instant::now();
            let next_mix = self.schedule_mixes(now);
            let next_feed = self.schedule_feeds(now);
            let next_mix = match (next_mix, next_feed) {
                (Some(m), Some(f)) => Some(m.min(f)),
                (m, f) => m.or(f),
            };
            let timers = self
                .timers
                .next()
                .map_or(next_housekeeping, |t| t.min(next_housekeeping));
            let deadline = next_mix.map_or(timers + TIMER_SLACK, |m| m.min(timers + TIMER_SLACK));
            let timeout = if self.backlog || !self.legs_ready.is_empty() {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                tracing::error!(shard = self.index, "poll failed: {e}");
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                self.io.counters.loop_lag.record(now - deadline);
            }
            let mut socket_read = false;
            for event in events.iter() {
                match event.token() {
                    SOCKET => {
                        self.read_socket();
                        socket_read = true;
                    }
                    WAKER => {}
                    LISTENER => {
                        if let Some(tcp) = self.tcp.as_mut() {
                            tcp.accept(self.poll.registry(), now);
                        }
                    }
                    Token(t) if t >= TCP_CONNS => {
                        if event.is_writable()
                            && let Some(tcp) = self.tcp.as_mut()
                        {
                            tcp.flush(t - TCP_CONNS, self.poll.registry());
                        }
                        if event.is_readable() || event.is_read_closed() {
                            self.read_tcp(t - TCP_CONNS, now);
                        }
                    }
                    Token(t) => self.legs_ready.push(t - LEGS),
                }
            }
            if self.backlog && !socket_read {
                self.read_socket();
            }
            self.read_legs(now);
            self.read_commands(now);
            self.read_relays(now);
            self.run_timers(now);
            if next_mix.is_some_and(|due| now >= due) {
                self.mix_tick(now);
                self.settle(now);
            }
            if next_feed.is_some_and(|due| now >= due) {
                self.feed_tick(now);
                self.settle(now);
            }
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
        }
        let all: Vec<usize> = self.peers.indexes();
        for peer in all {
            self.remove_peer(peer, MemberState::Closed);
        }
    }

    /// Reads the socket until it is empty or [`GROUPS_PER_TURN`] groups are done (then
    /// `backlog` is set), in groups of up to `group_limit` datagrams that share one clock reading
    /// and one flush; records each group's wake-to-sent time.
    fn read_socket(&mut self) {
        let mut group: Option<(Instant, u64)> = None;
        let mut in_group = 0;
        let mut groups = 0;
        self.backlog = false;
        loop {
            if groups == GROUPS_PER_TURN {
                // A whole turn without draining: the shard is behind, so batch harder.
                self.backlog = true;
                self.fanout_budget = (self.fanout_budget * 2).min(MAX_FANOUT_BUDGET);
                break;
            }
            match self.io.socket.recv_from(&mut self.buf) {
                Ok((len, source)) => {
                    let rtp_in = self.io.counters.rtp_in;
                    let (now, rtp_before) = *group.get_or_insert_with(|| (Instant::now(), rtp_in));
                    self.handle_datagram(now, source, len, Protocol::Udp);
                    in_group += 1;
                    if in_group >= self.group_limit {
                        self.finish_group(now, rtp_before);
                        group = None;
                        in_group = 0;
                        groups += 1;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Drained: the shard keeps up, so favour latency again.
                    self.fanout_budget = MIN_FANOUT_BUDGET;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ICMP errors surfacing on the socket (e.g. port unreachable) are not fatal.
                Err(_) => continue,
            }
        }
        if let Some((start, rtp_before)) = group {
            self.finish_group(start, rtp_before);
        }
    }

    /// Reads a TCP connection and handles each complete RFC 4571 frame like a datagram.
    fn read_tcp(&mut self, index: usize, now: Instant) {
        let Some(tcp) = self.tcp.as_mut() else { return };
        let mut frames = Vec::new();
        let Some(remote) = tcp.read(index, self.poll.registry(), &mut frames, now) else {
            return;
        };
        for frame in frames {
            let len = frame.len().min(self.buf.len());
            self.buf[..len].copy_from_slice(&frame[..len]);
            self.handle_datagram(now, remote, len, Protocol::Tcp);
        }
        self.settle(now);
    }

    /// Settles and flushes a group of datagrams that began when `rtp_in` was `rtp_before`; sizes
    /// the next group so that it causes about `fanout_budget` datagrams. Only RTP counts: STUN
    /// checks and RTCP cause next to nothing, and counting them would let a group of media grow
    /// far past the budget.
    fn finish_group(&mut self, start: Instant, rtp_before: u64) {
        let before = self.io.counters.datagrams_out;
        self.settle(start);
        self.io.counters.latency.record(start.elapsed());
        let media = self.io.counters.rtp_in - rtp_before;
        if media > 0 {
            let caused = (self.io.counters.datagrams_out - before).max(1);
            let fitting = (media * self.fanout_budget / caused) as usize;
            self.group_limit = fitting.clamp(1, FLUSH_EVERY);
        }
    }

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, len: usize, proto: Protocol) {
        self.io.counters.datagrams_in += 1;
        let datagram = &self.buf[..len];
        let Some(found) = self.demux.lookup(source, datagram) else {
            self.io.counters.datagrams_unmatched += 1;
            return;
        };
        let Ok(contents) = DatagramRecv::try_from(datagram) else {
            self.io.counters.datagrams_unmatched += 1;
            return;
        };
        let local = if proto == Protocol::Tcp {
            &self.advertised_tcp
        } else {
            &self.advertised
        };
        let Some(destination) = local
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == source.is_ipv4())
            .or_else(|| local.first().copied())
        else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        let index = found.peer();
        if datagram.first().is_some_and(|b| (128..=191).contains(b)) && is_rtcp(datagram) {
            read_egress_feedback(
                &mut self.peers,
                &mut self.io.queues,
                &mut self.io.counters,
                index,
                datagram,
                now,
            );
        }
        if let Match::Ufrag(_) = found {
            let accepted = self
                .peers
                .get(index)
                .and_then(|p| p.rtc())
                .is_some_and(|rtc| rtc.accepts(&input));
            if !accepted {
                self.io.counters.datagrams_unmatched += 1;
                return;
            }
        }
        drive(
            &mut self.peers,
            &mut self.io,
            &mut self.timers,
            index,
            Some(input),
        );
    }

    /// Drives a peer with `Input::Timeout(now)`.
    pub(super) fn tick(&mut self, peer: usize, now: Instant) {
        drive(
            &mut self.peers,
            &mut self.io,
            &mut self.timers,
            peer,
            Some(Input::Timeout(now)),
        );
    }

    /// Drains a peer after a mutation made outside `drive`.
    pub(super) fn drain(&mut self, peer: usize) {
        drive(&mut self.peers, &mut self.io, &mut self.timers, peer, None);
    }

    fn run_timers(&mut self, now: Instant) {
        // Only the wake-ups already queued: a peer that asks to be woken again at once (str0m's
        // pacer does, e.g. while padding) is served on the next loop turn, with a fresh `now`.
        // Without this bound, time never advances for str0m and the loop never ends, starving
        // sockets, commands and shutdown.
        let mut budget = self.timers.len();
        while budget > 0
            && let Some(due) = self.timers.pop_due(now)
        {
            budget -= 1;
            let current = self
                .peers
                .get_mut_gen(due.peer, due.generation)
                .is_some_and(|p| p.timer_at == Some(due.at));
            if current {
                if let Some(p) = self.peers.get_mut(due.peer) {
                    p.timer_at = None;
                }
                self.io.counters.timer_ticks += 1;
                if let Some(rtc) = self.peers.get(due.peer).and_then(Peer::rtc) {
                    self.io.counters.wakeups.record(rtc.last_timeout_reason());
                    self.tick(due.peer, now);
                } else {
                    self.send_due_dtmf(due.peer, now);
                }
            }
        }
        self.settle(now);
        if self.timers.len() > 4 * self.peers.len() + 1024 {
            let live = self.peers.iter().filter_map(|(i, p)| {
                p.timer_at.map(|at| Due {
                    at,
                    peer: i,
                    generation: p.generation,
                })
            });
            let live: Vec<Due> = live.collect();
            self.timers.rebuild(live.into_iter());
        }
    }

    /// Handles queued work until nothing is left: media lines, forwarding, keyframe requests,
    /// dead peers, and finally one tick per written-to peer to release its packets.
    pub(super) fn settle(&mut self, now: Instant) {
        while !self.io.queues.is_empty() {
            for (remote, datagram) in std::mem::take(&mut self.io.queues.tcp_out) {
                let sent = self
                    .tcp
                    .as_mut()
                    .is_some_and(|tcp| tcp.send(remote, &datagram, self.poll.registry()));
                if sent {
                    self.io.counters.datagrams_out += 1;
                } else {
                    self.io.counters.send_errors += 1;
                }
            }
            for (peer, addr) in std::mem::take(&mut self.io.queues.learned) {
                if let Some(p) = self.peers.get_mut(peer) {
                    self.demux.learn_addr(addr, peer, &mut p.addrs);
                }
            }
            self.handle_media_added();
            self.handle_connected();
            self.forward_queued(now);
            self.send_interest();
            self.handle_keyframe_requests(now);
            self.resend_lost(now);
            self.handle_dead();
            let dirty = std::mem::take(&mut self.io.queues.dirty);
            for &peer in &dirty {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.dirty = false;
                }
                self.tick(peer, now);
            }
            let mut dirty = dirty;
            dirty.clear();
            if self.io.queues.dirty.is_empty() {
                self.io.queues.dirty = dirty;
            }
        }
        self.flush_outbox();
        self.send_interest();
        let relayed = self.io.relay.flush(self.index);
        self.io.counters.relayed_out += relayed.messages;
        self.io.counters.relay_batches += relayed.batches;
    }

    /// Sends the datagrams the pass produced (see [`Outbox`]).
    fn flush_outbox(&mut self) {
        let flushed = self.io.outbox.flush(&self.io.socket);
        let counters = &mut self.io.counters;
        counters.datagrams_out += flushed.datagrams;
        counters.send_calls += flushed.calls;
        counters.send_errors += flushed.errors;
    }

    pub(super) fn handle_connected(&mut self) {
        let connected = std::mem::take(&mut self.io.queues.connected);
        for peer in connected {
            let Some(p) = self.peers.get_mut(peer) else {
                continue;
            };
            p.connected = true;
            if let (Transport::WebRtc(rtc), Some(egress)) = (&mut p.transport, &mut p.egress)
                && !egress.start(rtc)
            {
                p.egress = None;
            }
            let (room, member, companion) = (p.room, p.member.clone(), p.companion_of.is_some());
            let wanted: Vec<usize> = p
                .lines
                .iter()
                .filter_map(|l| l.slot.as_ref().and_then(|s| s.source))
                .collect();
            let Some(r) = self.rooms.get_mut(room) else {
                continue;
            };
            for source in wanted {
                if let Some(s) = r.sources.get_mut(source) {
                    s.keyframe_wanted = true;
                }
            }
            if !companion {
                self.io.emit(MediaEvent::MemberState {
                    room: r.id.clone(),
                    member,
                    state: MemberState::Connected,
                });
            }
        }
    }

    fn handle_dead(&mut self) {
        let dead = std::mem::take(&mut self.io.queues.dead);
        for (peer, generation, state) in dead {
            if self.peers.get_mut_gen(peer, generation).is_some() {
                self.remove_peer(peer, state);
            }
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        let stale: Vec<(usize, u32)> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                !p.connected && now.saturating_duration_since(p.added_at) >= CONNECT_TIMEOUT
            })
            .map(|(i, p)| (i, p.generation))
            .collect();
        for (peer, generation) in stale {
            self.io.queues.dead.push((
                peer,
                generation,
                MemberState::Failed("connect timeout".into()),
            ));
        }
        if let Some(tcp) = self.tcp.as_mut() {
            tcp.expire(now, self.poll.registry());
        }
        self.send_sender_reports(now);
        self.retry_keyframe_requests(now);
        self.select_layers(now);
        self.update_speakers(now);
        if now >= self.next_stats {
            self.next_stats = now + STATS_INTERVAL;
            self.emit_stats();
        }
        self.settle(now);
    }

    /// Sender reports of the streams Weft seals, where due.
    fn send_sender_reports(&mut self, now: Instant) {
        let outbox = &mut self.io.outbox;
        for (_, p) in self.peers.iter_mut() {
            if let Some(egress) = p.egress.as_deref_mut() {
                egress.send_reports(now, outbox);
            }
        }
    }

    fn emit_stats(&self) {
        if !self.io.events.stats_wanted() {
            return;
        }
        let own = |p: &Peer| p.companion_of.is_none() && p.remote().is_none();
        for (_, p) in self.peers.iter().filter(|(_, p)| own(p)) {
            let mut stats = p.stats.clone();
            if let Some(c) = p.companion.and_then(|c| self.peers.get(c)) {
                stats.packets_in += c.stats.packets_in;
                stats.packets_out += c.stats.packets_out;
                stats.bytes_in += c.stats.bytes_in;
                stats.bytes_out += c.stats.bytes_out;
            }
            if let Some(room) = self.rooms.get(p.room) {
                self.io.emit(MediaEvent::Stats {
                    room: room.id.clone(),
                    member: p.member.clone(),
                    stats,
                });
            }
        }
    }
}
