//! A shard's output side, borrowed apart from its peers: the socket and outbox, events,
//! counters, relay messages and the work queued while peers are drained.

use std::net::SocketAddr;

use mio::net::UdpSocket;
use str0m::media::{KeyframeRequest, MediaAdded, Mid};
use str0m::rtp::RtpPacket;

use super::counters::ShardCounters;
use super::outbox::Outbox;
use super::relay::RelayOut;
use crate::event::{MediaEvent, MemberState};
use crate::event_bus::EventBus;

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
    pub(super) fn is_empty(&self) -> bool {
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
