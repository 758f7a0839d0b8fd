//! The shard thread: socket, timers, commands and the per-peer drive loop.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::media::{KeyframeRequest, KeyframeRequestKind, MediaAdded, Mid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::RtpPacket;
use str0m::{Event, IceConnectionState, Input, Output};

use super::demux::{Demux, Match};
use super::egress::{PeerEgress, StreamFeedback};
use super::leg_crypto::is_rtcp;
use super::outbox::Outbox;
use super::peer::{Peer, Transport};
use super::relay::{RelayBatch, RelayOut};
use super::room::Room;
use super::slab::Slab;
use super::tcp::{TCP_CONNS, Tcp};
use super::timers::{Due, TimerHeap};
use super::wakeups::WakeupReasons;
use super::{Command, ShardSetup};
use crate::directory::Directory;
use crate::egress::EgressKeys;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::event_bus::EventBus;
use crate::ids::{MemberId, RoomId};
use crate::negotiate::{BuiltRtc, PendingOffer};
use crate::options::MediaKind;

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
/// The budget under sustained load. Each group that fills while more datagrams wait doubles the
/// budget up to this; a drained socket resets it. Bigger groups tick each subscriber's `Rtc` once
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

/// Counters of one shard, reported by [`crate::MediaEngine::shard_counters`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardCounters {
    /// Live peers.
    pub peers: usize,
    /// Live rooms.
    pub rooms: usize,
    /// Address and ufrag entries in the demultiplexer.
    pub demux_entries: usize,
    /// Open ICE-TCP connections.
    pub tcp_connections: usize,
    /// Datagrams read from the socket.
    pub datagrams_in: u64,
    /// Datagrams that matched no peer.
    pub datagrams_unmatched: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Failed sends.
    pub send_errors: u64,
    /// Datagrams plain-RTP legs dropped because they came from another address than the leg's
    /// source (after it locked, or after its learning window).
    pub leg_foreign_dropped: u64,
    /// Datagrams SRTP plain-RTP legs dropped because they did not unprotect: failed
    /// authentication (sent in the clear or with another key), replayed, or malformed.
    pub leg_srtp_failed: u64,
    /// UDP send calls (fewer than `datagrams_out` when GSO joined runs to one destination).
    pub send_calls: u64,
    /// Packets Weft sealed itself (owned egress), forwarded and mixed.
    pub sealed: u64,
    /// Packets resent on Weft-owned egress after a NACK.
    pub retransmitted: u64,
    /// Timer wake-ups of peers (str0m asked to be driven at a time, with no input).
    pub timer_ticks: u64,
    /// The same wake-ups by the reason str0m gave for them.
    pub wakeups: WakeupReasons,
    /// Publisher RTP packets received.
    pub rtp_in: u64,
    /// Subscriber RTP packets written (forwarded).
    pub rtp_forwarded: u64,
    /// Publisher RTP packets fanned out, per kind (audio, video).
    pub received: [u64; 2],
    /// Subscriber RTP packets written, per kind (audio, video).
    pub forwarded: [u64; 2],
    /// Payload bytes of the subscriber RTP packets written, per kind (audio, video).
    pub forwarded_bytes: [u64; 2],
    /// RTCP feedback received from members: NACK, PLI, FIR (from str0m's stats, every 5 s).
    pub rtcp_in: [u64; 3],
    /// RTCP feedback sent to members: NACK, PLI, FIR.
    pub rtcp_out: [u64; 3],
    /// Peers closed because str0m panicked.
    pub panics: u64,
    /// Members of spanning rooms that other shards own (known here as remote members).
    pub remote_members: usize,
    /// Sources (published streams) in this shard's rooms, remote members' included.
    pub sources: usize,
    /// Messages sent to other shards of spanning rooms.
    pub relayed_out: u64,
    /// Batches that carried them (one per destination shard and pass).
    pub relay_batches: u64,
    /// Messages received from other shards.
    pub relayed_in: u64,
    /// Time from reading a group of datagrams to having sent everything they caused (for packets
    /// relayed from another shard: from their arrival there).
    pub latency: LatencyHistogram,
    /// How late the shard loop ran its due timers.
    pub loop_lag: LatencyHistogram,
}

impl ShardCounters {
    /// Counts one packet of `len` payload bytes written to a subscriber, of kind index `k`.
    pub(super) fn count_forwarded(&mut self, k: usize, len: usize) {
        self.rtp_forwarded += 1;
        self.forwarded[k] += 1;
        self.forwarded_bytes[k] += len as u64;
    }

    /// Index of `kind` in the per-kind arrays.
    pub(super) fn kind_index(kind: MediaKind) -> usize {
        match kind {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        }
    }
}

/// Upper bounds of the latency buckets, in microseconds (the last bucket is open).
pub const LATENCY_BUCKETS_US: [u64; 10] = [
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    u64::MAX,
];

/// A fixed-bucket latency histogram (no allocation when recording).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Counts per bucket of [`LATENCY_BUCKETS_US`].
    pub counts: [u64; 10],
    /// Sum of all samples, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    pub(super) fn record(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = LATENCY_BUCKETS_US.iter().position(|b| us < *b).unwrap_or(9);
        self.counts[i] += 1;
        self.sum_us += us;
    }

    /// The bucket bound below which a fraction `q` of the samples fall (`u64::MAX`: above 20 ms).
    pub fn quantile_us(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return LATENCY_BUCKETS_US[i];
            }
        }
        LATENCY_BUCKETS_US[9]
    }
}

/// Work produced while draining peers, handled once the peer is no longer borrowed.
#[derive(Default)]
pub(super) struct Queues {
    pub rtp: Vec<(usize, RtpPacket)>,
    pub keyframe_requests: Vec<(usize, KeyframeRequest)>,
    pub media_added: Vec<(usize, MediaAdded)>,
    pub connected: Vec<usize>,
    pub dead: Vec<(usize, u32, MemberState)>,
    pub dirty: Vec<usize>,
    /// Remote addresses a peer sent to for the first time (answered STUN): routable from now on.
    pub learned: Vec<(usize, SocketAddr)>,
    /// Datagrams for ICE-TCP connections, sent (framed) after the drain.
    pub tcp_out: Vec<(SocketAddr, Vec<u8>)>,
    /// Packets peers reported lost on streams Weft seals: (peer, mid, sequence number).
    pub lost: Vec<(usize, Mid, u16)>,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.rtp.is_empty()
            && self.keyframe_requests.is_empty()
            && self.media_added.is_empty()
            && self.connected.is_empty()
            && self.dead.is_empty()
            && self.dirty.is_empty()
            && self.learned.is_empty()
            && self.tcp_out.is_empty()
            && self.lost.is_empty()
    }
}

/// Socket and output side of a shard, borrowed apart from the peers.
pub(super) struct Io {
    pub socket: UdpSocket,
    pub outbox: Outbox,
    pub events: EventBus,
    pub queues: Queues,
    pub counters: ShardCounters,
    /// Messages for the other shards of spanning rooms, sent at the end of each pass.
    pub relay: RelayOut,
    /// Some source's subscribers changed: remote video may be wanted here, or no longer.
    pub interest_changed: bool,
}

impl Io {
    pub(super) fn emit(&self, event: MediaEvent) {
        self.events.emit(event);
    }
}

/// One shard's state; runs on its own thread.
pub(crate) struct Worker {
    pub(super) index: usize,
    pub(super) poll: Poll,
    waker: Arc<Waker>,
    inbox: mpsc::Receiver<Command>,
    /// The candidate address(es) peers send to, used as `Receive::destination`.
    advertised: Vec<SocketAddr>,
    /// The passive TCP candidate address(es), when ICE-TCP is on.
    advertised_tcp: Vec<SocketAddr>,
    /// Passive ICE-TCP listener and connections, when ICE-TCP is on.
    tcp: Option<Tcp>,
    pub(super) peers: Slab<Peer>,
    pub(super) rooms: Slab<Room>,
    pub(super) room_ids: HashMap<RoomId, usize>,
    pub(super) members: HashMap<MemberId, usize>,
    /// Remote members: (owning shard, its peer index) to the local peer index.
    pub(super) proxies: HashMap<(usize, usize), usize>,
    /// Messages from the other shards.
    pub(super) relays: mpsc::Receiver<RelayBatch>,
    demux: Demux,
    pub(super) timers: TimerHeap,
    directory: Arc<Directory>,
    pub(super) io: Io,
    pub(super) last_n: usize,
    /// The phase the last new mixer got within the mix interval (see `schedule_mixes`).
    pub(super) mix_phase: Duration,
    pub(super) buf: Vec<u8>,
    stopping: bool,
    next_stats: Instant,
    /// Received datagrams per group, adapted to the fan-out they cause (see [`MIN_FANOUT_BUDGET`]).
    group_limit: usize,
    /// Datagrams a group may cause, between [`MIN_FANOUT_BUDGET`] and [`MAX_FANOUT_BUDGET`].
    fanout_budget: u64,
    /// The socket may hold more datagrams than the last turn read.
    backlog: bool,
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
            let wake = next_mix.map_or(next_housekeeping, |m| m.min(next_housekeeping));
            let deadline = self.timers.next().map_or(wake, |t| t.min(wake));
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
                self.backlog = true;
                break;
            }
            match self.io.socket.recv_from(&mut self.buf) {
                Ok((len, source)) => {
                    let rtp_in = self.io.counters.rtp_in;
                    let (now, rtp_before) = *group.get_or_insert_with(|| (Instant::now(), rtp_in));
                    self.handle_datagram(now, source, len, Protocol::Udp);
                    in_group += 1;
                    if in_group >= self.group_limit {
                        // A full group: more may be waiting, so batch harder.
                        self.fanout_budget = (self.fanout_budget * 2).min(MAX_FANOUT_BUDGET);
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

    fn read_commands(&mut self, now: Instant) {
        loop {
            match self.inbox.try_recv() {
                Ok(command) => self.handle_command(command, now),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.stopping = true;
                    break;
                }
            }
            self.settle(now);
        }
    }

    fn handle_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::CreateRoom {
                room,
                max_members,
                replicas,
                home,
                reply,
            } => {
                let _ = reply.send(self.create_room(room, max_members, replicas, home));
            }
            Command::AddReplica { room, shard, reply } => {
                let _ = reply.send(self.add_replica(&room, shard));
            }
            Command::Links(links) => self.connect(links),
            Command::CloseRoom { room, reply } => {
                let _ = reply.send(self.close_room(&room));
            }
            Command::AddPeer {
                room,
                member,
                rtc,
                keys,
                pending_offer,
                companion,
                opts,
                reply,
            } => {
                let result = self.add_peer(
                    room,
                    member,
                    (*rtc, keys),
                    pending_offer,
                    companion,
                    &opts,
                    now,
                );
                let _ = reply.send(result);
            }
            Command::AddLeg {
                room,
                member,
                socket,
                opts,
                reply,
            } => {
                let _ = reply.send(self.add_leg(room, member, socket, &opts, now));
            }
            Command::SetLegRemote {
                member,
                remote,
                reply,
            } => {
                let _ = reply.send(self.set_leg_remote(&member, remote, now));
            }
            Command::ConfigureLeg {
                member,
                config,
                reply,
            } => {
                let _ = reply.send(self.configure_leg(&member, &config, now));
            }
            Command::SendDtmf {
                member,
                events,
                reply,
            } => {
                let _ = reply.send(self.send_dtmf(&member, &events, now));
            }
            Command::AcceptAnswer {
                member,
                answer,
                reply,
            } => {
                let _ = reply.send(self.accept_answer(&member, answer));
            }
            Command::UpdateMedia {
                member,
                offer,
                reply,
            } => {
                let _ = reply.send(self.update_media(&member, offer));
            }
            Command::SetMuted {
                member,
                kind,
                muted,
                reply,
            } => {
                let _ = reply.send(self.set_muted(&member, kind, muted));
            }
            Command::SetDeaf {
                member,
                deaf,
                reply,
            } => {
                let _ = reply.send(self.set_deaf(&member, deaf));
            }
            Command::SetLayerPreference {
                member,
                pref,
                reply,
            } => {
                let result = self.transports_of(&member).map(|transports| {
                    for i in transports {
                        if let Some(p) = self.peers.get_mut(i) {
                            p.layers = pref;
                        }
                    }
                });
                let _ = reply.send(result);
            }
            Command::RemoveMember { member, reply } => {
                let result = self
                    .peer_of(&member)
                    .map(|i| self.remove_peer(i, MemberState::Closed));
                let _ = reply.send(result);
            }
            Command::Counters { reply } => {
                let mut counters = self.io.counters.clone();
                counters.peers = self.peers.len() - self.proxies.len();
                counters.remote_members = self.proxies.len();
                counters.sources = self.rooms.iter().map(|(_, r)| r.sources.len()).sum();
                counters.rooms = self.rooms.len();
                counters.demux_entries = self.demux.len();
                counters.tcp_connections = self.tcp.as_ref().map_or(0, Tcp::len);
                let _ = reply.send(Ok(counters));
            }
            #[cfg(test)]
            Command::InjectFault { member, reply } => {
                let result = self.peer_of(&member).map(|i| {
                    if let Some(p) = self.peers.get_mut(i) {
                        p.fault = true;
                    }
                    self.tick(i, now);
                });
                let _ = reply.send(result);
            }
            Command::Shutdown => self.stopping = true,
        }
    }

    pub(super) fn peer_of(&self, member: &MemberId) -> Result<usize, MediaError> {
        self.members
            .get(member)
            .copied()
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))
    }

    /// The member's peer and, if it has one, its companion.
    pub(super) fn transports_of(&self, member: &MemberId) -> Result<Vec<usize>, MediaError> {
        let index = self.peer_of(member)?;
        let companion = self.peers.get(index).and_then(|p| p.companion);
        Ok(std::iter::once(index).chain(companion).collect())
    }

    /// The index of `room` if `member` may join it: the room exists, has room, and the member is new.
    pub(super) fn admit(&self, room: RoomId, member: &MemberId) -> Result<usize, MediaError> {
        let room_index = *self
            .room_ids
            .get(&room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        let r = self
            .rooms
            .get(room_index)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if r.headcount() >= r.max_members {
            return Err(MediaError::RoomFull(room));
        }
        if self.members.contains_key(member) {
            return Err(MediaError::MemberExists(member.clone()));
        }
        Ok(room_index)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_peer(
        &mut self,
        room: RoomId,
        member: MemberId,
        rtc: BuiltRtc,
        pending_offer: Option<PendingOffer>,
        companion: Option<(Box<str0m::Rtc>, Option<EgressKeys>, PendingOffer)>,
        opts: &crate::options::MemberOptions,
        now: Instant,
    ) -> Result<(), MediaError> {
        let room_index = self.admit(room, &member)?;
        let index = self.insert_webrtc(room_index, &member, rtc, pending_offer, opts, now);
        self.members.insert(member.clone(), index);
        self.announce_joined(index);
        if let Some((rtc, keys, pending)) = companion {
            let second =
                self.insert_webrtc(room_index, &member, (*rtc, keys), Some(pending), opts, now);
            if let Some(p) = self.peers.get_mut(second) {
                p.companion_of = Some(index);
            }
            if let Some(p) = self.peers.get_mut(index) {
                p.companion = Some(second);
            }
            if let Some(r) = self.rooms.get_mut(room_index) {
                r.companions += 1;
            }
            self.drain(second);
        }
        self.drain(index);
        Ok(())
    }

    /// Inserts one WebRTC transport of `member` into the peers, the demultiplexer and the room.
    fn insert_webrtc(
        &mut self,
        room_index: usize,
        member: &MemberId,
        (mut rtc, keys): BuiltRtc,
        pending_offer: Option<PendingOffer>,
        opts: &crate::options::MemberOptions,
        now: Instant,
    ) -> usize {
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let (index, generation) = self.peers.insert(Peer::new(
            Transport::WebRtc(Box::new(rtc)),
            0,
            member.clone(),
            room_index,
            ufrag.clone(),
            opts,
            now,
        ));
        if let Some(p) = self.peers.get_mut(index) {
            p.generation = generation;
            p.pending_offer = pending_offer;
            p.egress = keys.map(|keys| Box::new(PeerEgress::new(keys)));
        }
        self.demux.add_ufrag(ufrag, index);
        if let Some(r) = self.rooms.get_mut(room_index) {
            r.members.push(index);
        }
        index
    }

    fn close_room(&mut self, room: &RoomId) -> Result<(), MediaError> {
        let index = self
            .room_ids
            .remove(room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        let members = self
            .rooms
            .get(index)
            .map(|r| r.members.clone())
            .unwrap_or_default();
        for peer in members {
            self.remove_peer(peer, MemberState::Closed);
        }
        self.rooms.remove(index);
        Ok(())
    }

    /// Removes a member's peer, its companion, and every reference to them; emits the member's
    /// final state. A failing companion takes its member down with it.
    pub(super) fn remove_peer(&mut self, index: usize, state: MemberState) {
        let Some(p) = self.peers.get(index) else {
            return;
        };
        if p.remote().is_some() {
            return self.remove_remote(index);
        }
        if let Some(primary) = p.companion_of {
            return self.remove_peer(primary, state);
        }
        if let Some(companion) = p.companion
            && self
                .peers
                .get(companion)
                .is_some_and(|c| c.companion_of == Some(index))
        {
            self.detach_transport(companion);
        }
        let Some((peer, room_id)) = self.detach_transport(index) else {
            return;
        };
        if self.members.get(&peer.member) == Some(&index) {
            self.members.remove(&peer.member);
        }
        self.directory.remove_member(&peer.member);
        self.apply_policy(peer.room);
        if let Some(room) = room_id {
            self.io.emit(MediaEvent::MemberState {
                room,
                member: peer.member,
                state,
            });
        }
    }

    /// Folds a member back onto its primary transport (a client's renegotiation offer is one
    /// BUNDLE transport): the companion and the streams it carried leave.
    pub(super) fn drop_companion(&mut self, index: usize) {
        let Some(companion) = self.peers.get_mut(index).and_then(|p| p.companion.take()) else {
            return;
        };
        if self
            .peers
            .get(companion)
            .is_some_and(|c| c.companion_of == Some(index))
        {
            self.detach_transport(companion);
            if let Some(room) = self.peers.get(index).map(|p| p.room) {
                self.apply_policy(room);
            }
        }
    }

    /// Removes one transport from the peers, the demultiplexer, the queues and its room; returns
    /// it with its room's id.
    pub(super) fn detach_transport(&mut self, index: usize) -> Option<(Peer, Option<RoomId>)> {
        let mut peer = self.peers.remove(index)?;
        self.demux.remove(&peer.ufrag, &peer.addrs);
        self.io.queues.dirty.retain(|p| *p != index);
        match &mut peer.transport {
            Transport::WebRtc(rtc) => {
                let _ = catch_unwind(AssertUnwindSafe(|| rtc.disconnect()));
            }
            Transport::Rtp(leg) => {
                let _ = self.poll.registry().deregister(&mut leg.socket);
            }
            Transport::Remote(_) => {}
        }
        if peer.companion_of.is_some()
            && let Some(r) = self.rooms.get_mut(peer.room)
        {
            r.companions = r.companions.saturating_sub(1);
        }
        let room_id = self.detach_from_room(index, &peer);
        self.announce_detached(index, &peer);
        Some((peer, room_id))
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

/// Feeds `input` (if any) to one peer and drains its output, all inside `catch_unwind`: a panic
/// in str0m marks only this peer dead.
fn drive(
    peers: &mut Slab<Peer>,
    io: &mut Io,
    timers: &mut TimerHeap,
    index: usize,
    input: Option<Input>,
) {
    let Some(peer) = peers.get_mut(index).filter(|p| p.rtc().is_some()) else {
        return;
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| drain_peer(index, peer, io, input)));
    let state = match outcome {
        Ok(Ok(next)) => {
            if peer.timer_at != Some(next) {
                peer.timer_at = Some(next);
                timers.schedule(Due {
                    at: next,
                    peer: index,
                    generation: peer.generation,
                });
            }
            if peer.rtc().is_some_and(|rtc| rtc.is_alive()) {
                return;
            }
            MemberState::Closed
        }
        Ok(Err(e)) => MemberState::Failed(format!("rtc error: {e}")),
        Err(_) => {
            io.counters.panics += 1;
            MemberState::Failed("internal error".into())
        }
    };
    io.queues.dead.push((index, peer.generation, state));
}

fn drain_peer(
    index: usize,
    peer: &mut Peer,
    io: &mut Io,
    input: Option<Input>,
) -> Result<Instant, String> {
    #[cfg(test)]
    assert!(!peer.fault, "injected fault");
    let Some(rtc) = peer.rtc_mut() else {
        return Err("not a WebRTC member".into());
    };
    if let Some(input) = input
        && let Err(e) = rtc.handle_input(input)
    {
        tracing::debug!(member = %peer.member, "input rejected: {e}");
    }
    loop {
        let Some(rtc) = peer.rtc_mut() else {
            return Err("not a WebRTC member".into());
        };
        match rtc.poll_output().map_err(|e| e.to_string())? {
            Output::Timeout(at) => return Ok(at),
            Output::Transmit(t) => {
                if let Some(egress) = peer.egress.as_deref_mut() {
                    egress.note_transmit(t.destination, &t.contents, t.proto == Protocol::Tcp);
                }
                if !peer.addrs.contains(&t.destination) {
                    io.queues.learned.push((index, t.destination));
                }
                if t.proto == Protocol::Tcp {
                    io.queues.tcp_out.push((t.destination, t.contents.into()));
                    continue;
                }
                io.outbox.push(t.destination, t.contents.into());
            }
            Output::Event(event) => queue_event(index, peer, io, event),
        }
    }
}

/// Feedback a peer sent about the streams Weft seals for it: keyframe requests join str0m's,
/// lost packets are queued for resending.
fn read_egress_feedback(
    peers: &mut Slab<Peer>,
    queues: &mut Queues,
    counters: &mut ShardCounters,
    index: usize,
    datagram: &[u8],
    now: Instant,
) {
    let Some(p) = peers.get_mut(index) else {
        return;
    };
    let Some(egress) = p.egress.as_deref_mut() else {
        return;
    };
    // A compound packet has a handful of report blocks; more than 8 is not a real receiver.
    let mut losses = [None; 8];
    let mut n = 0;
    egress.read_rtcp(datagram, |feedback| match feedback {
        StreamFeedback::Keyframe(mid, kind) => {
            counters.rtcp_in[if kind == KeyframeRequestKind::Fir {
                2
            } else {
                1
            }] += 1;
            queues.keyframe_requests.push((
                index,
                KeyframeRequest {
                    mid,
                    rid: None,
                    kind,
                },
            ));
        }
        StreamFeedback::Nacked(_) => counters.rtcp_in[0] += 1,
        StreamFeedback::Lost(mid, seq) => queues.lost.push((index, mid, seq)),
        StreamFeedback::Loss(mid, fraction) => {
            if let Some(slot) = losses.get_mut(n) {
                *slot = Some((mid, fraction));
                n += 1;
            }
        }
    });
    for (mid, fraction) in losses.into_iter().flatten() {
        egress.observe_loss(mid, fraction, now);
    }
    if egress.sealing() {
        p.stats.bwe_bps = Some(egress.estimate_bps());
    }
}

fn queue_event(index: usize, peer: &mut Peer, io: &mut Io, event: Event) {
    let queues = &mut io.queues;
    match event {
        Event::Connected => queues.connected.push(index),
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
            queues.dead.push((
                index,
                peer.generation,
                MemberState::Failed("ICE disconnected".into()),
            ));
        }
        Event::Closed => queues
            .dead
            .push((index, peer.generation, MemberState::Closed)),
        Event::RtpPacket(packet) => {
            peer.stats.packets_in += 1;
            peer.stats.bytes_in += packet.payload.len() as u64;
            io.counters.rtp_in += 1;
            queues.rtp.push((index, packet));
        }
        Event::KeyframeRequest(request) => queues.keyframe_requests.push((index, request)),
        Event::MediaEgressStats(stats) => peer.feedback.egress(&stats, &mut io.counters),
        Event::MediaIngressStats(stats) => peer.feedback.ingress(&stats, &mut io.counters),
        Event::MediaAdded(added) => queues.media_added.push((index, added)),
        Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc { estimate, .. }) => {
            peer.stats.bwe_bps = Some(estimate.as_u64());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_run_from_50_us_to_20_ms_and_keep_a_sum() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_micros(30));
        h.record(Duration::from_micros(15_000));
        h.record(Duration::from_millis(25));
        assert_eq!(h.counts, [1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(h.sum_us, 30 + 15_000 + 25_000);
        assert_eq!(h.quantile_us(0.3), 50);
        assert_eq!(h.quantile_us(0.5), 20_000);
    }
}
