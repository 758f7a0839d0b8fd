//! A room inside a shard: its members and the streams they publish.

use std::time::Instant;

use str0m::media::{Mid, Rid};

use super::slab::Slab;
use crate::hotpath::Forwarded;
use crate::ids::RoomId;
use crate::mixer::Mixer;
use crate::options::MediaKind;
use crate::rtx_ring::{RtxPacket, RtxRing};

/// A room: members (peer indexes) and sources (published streams).
pub(crate) struct Room {
    pub id: RoomId,
    /// Peers in the room, companions included (see [`Room::headcount`]).
    pub members: Vec<usize>,
    /// How many of `members` are companions (second transports of a member).
    pub companions: usize,
    pub sources: Slab<Source>,
    pub max_members: usize,
    /// Peer index of the active (loudest) speaker.
    pub active_speaker: Option<usize>,
    /// Peer index of the speaker before it (what the active speaker sees).
    pub previous_speaker: Option<usize>,
    /// Mix-minus audio for one-slot members (rooms of three or more).
    pub mixer: Option<Mixer>,
    /// When the mixer's next frame is due; each room of a shard has its own phase.
    pub next_mix: Option<Instant>,
    /// Sequence number and RTP timestamps (48 kHz, and 8 kHz for G.711 listeners) of the mixer's
    /// output frames (rewritten per listener).
    pub mix_seq: u64,
    pub mix_ts: u32,
    pub mix_ts_8k: u32,
    /// The other shards holding a replica of this room (empty unless the room spans shards).
    pub replicas: Vec<usize>,
    /// Whether this shard is the room's home: it emits the room-level events (active speaker).
    pub home: bool,
    /// The room's source member on this shard (an index of the shard's feeds), if any.
    pub feed: Option<usize>,
}

/// One stream published by a member, and who receives it.
pub(crate) struct Source {
    pub publisher: usize,
    pub mid: Mid,
    pub kind: MediaKind,
    /// `(peer, line)` pairs receiving this source.
    pub subscribers: Vec<(usize, usize)>,
    /// A subscriber needs a keyframe that has not arrived yet.
    pub keyframe_wanted: bool,
    pub last_keyframe_request: Option<Instant>,
    /// Simulcast layers seen on this source (empty when it is not simulcast).
    pub layers: Vec<LayerStat>,
    /// A local video source: the other shards of the room whose subscribers want it relayed.
    pub relay_to: Vec<usize>,
    /// A remote video source: whether its shard was told that subscribers here want it.
    pub wanted_here: bool,
    /// Recently forwarded packets per simulcast layer (`None`: not simulcast), for answering
    /// NACKs on Weft-owned egress; kept once for every subscriber.
    pub history: Vec<(Option<Rid>, RtxRing)>,
}

/// Packets a video source keeps for retransmission per layer: about a second of a 2.5 Mbit/s
/// layer.
const HISTORY: usize = 256;

impl Source {
    /// Keeps a forwarded video packet for retransmission.
    pub(crate) fn remember(&mut self, f: &Forwarded) {
        let layer = match self.history.iter().position(|(rid, _)| *rid == f.rid) {
            Some(layer) => layer,
            None => {
                self.history.push((f.rid, RtxRing::new(HISTORY)));
                self.history.len() - 1
            }
        };
        self.history[layer].1.push_forwarded(f);
    }

    /// The packet of layer `rid` with extended sequence number `seq`, if kept.
    pub(crate) fn recent(&self, rid: Option<Rid>, seq: u64) -> Option<&RtxPacket> {
        self.history
            .iter()
            .find(|(r, _)| *r == rid)
            .and_then(|(_, ring)| ring.get(seq))
    }
}

/// One simulcast layer of a source: its measured bitrate, keyframe-request throttle, and whether
/// its publisher was told nobody receives it.
pub(crate) struct LayerStat {
    pub rid: Rid,
    /// Payload bytes since `window_start`.
    pub bytes: u64,
    pub window_start: Instant,
    /// Measured bitrate over the last completed window (kept while the layer is paused).
    pub bps: u64,
    pub last_keyframe_request: Option<Instant>,
    /// When a subscriber last received or targeted the layer.
    pub last_wanted: Instant,
    /// The publisher was told nobody receives the layer.
    pub paused: bool,
    /// When the publisher was last told to send the layer again.
    pub resumed_at: Option<Instant>,
}

impl LayerStat {
    /// A layer first seen at `now`.
    pub(crate) fn new(rid: Rid, now: Instant) -> Self {
        Self {
            rid,
            bytes: 0,
            window_start: now,
            bps: 0,
            last_keyframe_request: None,
            last_wanted: now,
            paused: false,
            resumed_at: None,
        }
    }
}

impl Room {
    pub(crate) fn new(id: RoomId, max_members: usize, replicas: Vec<usize>, home: bool) -> Self {
        Self {
            id,
            members: Vec::new(),
            companions: 0,
            sources: Slab::default(),
            max_members,
            active_speaker: None,
            previous_speaker: None,
            mixer: None,
            next_mix: None,
            mix_seq: 1,
            mix_ts: 0,
            mix_ts_8k: 0,
            replicas,
            home,
            feed: None,
        }
    }

    /// Members in the room, each counted once however many transports it has.
    pub(crate) fn headcount(&self) -> usize {
        self.members.len() - self.companions
    }
}
