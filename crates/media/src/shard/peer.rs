//! One member's state inside its shard: the str0m `Rtc` plus forwarding bookkeeping.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::Rtc;
use str0m::media::{Mid, Rid};

use super::egress::PeerEgress;
use super::leg::RtpLeg;
use super::rtcp_stats::FeedbackTotals;
use crate::event::MemberStats;
use crate::hotpath::SlotWriter;
use crate::ids::MemberId;
use crate::negotiate::PendingOffer;
use crate::options::{LayerPreference, MediaKind, MemberOptions};
use crate::speech::SpeechDetector;
use crate::tap::TapSender;
use crate::transcode::SlotCodec;

/// How a member's media travels.
pub(crate) enum Transport {
    /// A WebRTC peer connection.
    WebRtc(Box<Rtc>),
    /// A plain-RTP leg.
    Rtp(Box<RtpLeg>),
    /// A member on another shard of a spanning room: its streams arrive as relay messages.
    Remote(RemoteMember),
}

/// Where a remote member lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemoteMember {
    /// The shard owning the member.
    pub shard: usize,
    /// The member's peer index there.
    pub from: usize,
}

/// A peer (one member) owned by a shard.
pub(crate) struct Peer {
    pub transport: Transport,
    pub generation: u32,
    pub member: MemberId,
    /// The peer carrying this member's other m-line on a transport of its own (a member made
    /// from an unbundled engine offer has its audio here and its video on the companion).
    pub companion: Option<usize>,
    /// Set on a companion: the member's primary peer, which speaks for it (events, commands).
    pub companion_of: Option<usize>,
    /// Index of the room in the shard's room slab.
    pub room: usize,
    pub ufrag: String,
    pub addrs: Vec<SocketAddr>,
    /// The deadline this peer is scheduled for in the timer heap.
    pub timer_at: Option<Instant>,
    pub lines: Vec<Line>,
    pub audio_muted: bool,
    pub video_muted: bool,
    pub deaf: bool,
    pub layers: LayerPreference,
    pub connected: bool,
    /// Receives mix-minus audio instead of forwarded streams (one audio slot, room of 3+).
    pub mixed: bool,
    /// Receives the active speaker's video on its one video slot (room of 3+).
    pub switched: bool,
    /// Its first audio slot carries the room's source member's frames (see [`super::feeds`]).
    pub fed: bool,
    /// Where a copy of the audio it sends goes (see [`crate::MediaEngine::tap`]).
    pub tap: Option<TapSender>,
    /// Written to since the last tick (needs `Input::Timeout` to release the packets).
    pub dirty: bool,
    pub added_at: Instant,
    pub pending_offer: Option<PendingOffer>,
    pub stats: MemberStats,
    /// Last RTCP feedback totals of str0m's stream stats.
    pub feedback: FeedbackTotals,
    pub speech: SpeechDetector,
    /// Weft's own egress (a WebRTC peer whose SRTP keys are captured).
    pub egress: Option<Box<PeerEgress>>,
    /// Test-only: make the next drive panic, as a str0m bug would.
    #[cfg(test)]
    pub fault: bool,
}

/// One negotiated m-line of a peer.
pub(crate) struct Line {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The room source this line publishes (when the peer sends on it).
    pub source: Option<usize>,
    /// The forwarding slot (when the engine can send on it).
    pub slot: Option<Slot>,
}

/// What a send-capable m-line currently carries.
#[derive(Default)]
pub(crate) struct Slot {
    pub source: Option<usize>,
    pub writer: SlotWriter,
    /// Simulcast: the layer being forwarded, and the one to switch to on its next keyframe.
    pub layer: Option<Rid>,
    pub target: Option<Rid>,
    /// Audio: passed as is or transcoded into the subscriber's codec.
    pub codec: SlotCodec,
}

impl Peer {
    pub(crate) fn new(
        transport: Transport,
        generation: u32,
        member: MemberId,
        room: usize,
        ufrag: String,
        opts: &MemberOptions,
        now: Instant,
    ) -> Self {
        Self {
            transport,
            generation,
            member,
            companion: None,
            companion_of: None,
            room,
            ufrag,
            addrs: Vec::new(),
            timer_at: None,
            lines: Vec::new(),
            audio_muted: opts.audio_muted,
            video_muted: opts.video_muted,
            deaf: opts.deaf,
            layers: LayerPreference::default(),
            connected: false,
            mixed: false,
            switched: false,
            fed: false,
            tap: None,
            dirty: false,
            added_at: now,
            pending_offer: None,
            stats: MemberStats::default(),
            feedback: FeedbackTotals::default(),
            speech: SpeechDetector::default(),
            egress: None,
            #[cfg(test)]
            fault: false,
        }
    }

    /// Lends Weft's send streams back to str0m before an SDP operation (see
    /// [`PeerEgress::lend`]); [`Peer::reclaim_streams`] takes them again.
    pub(crate) fn lend_streams(&mut self) {
        if let (Transport::WebRtc(rtc), Some(egress)) = (&mut self.transport, &self.egress) {
            egress.lend(rtc);
        }
    }

    /// Takes Weft's send streams back after an SDP operation.
    pub(crate) fn reclaim_streams(&mut self) {
        if let (Transport::WebRtc(rtc), Some(egress)) = (&mut self.transport, &mut self.egress) {
            egress.reclaim(rtc);
        }
    }

    /// The WebRTC connection, unless this is a plain-RTP leg.
    pub(crate) fn rtc(&self) -> Option<&Rtc> {
        match &self.transport {
            Transport::WebRtc(rtc) => Some(rtc),
            Transport::Rtp(_) | Transport::Remote(_) => None,
        }
    }

    /// The WebRTC connection, mutably.
    pub(crate) fn rtc_mut(&mut self) -> Option<&mut Rtc> {
        match &mut self.transport {
            Transport::WebRtc(rtc) => Some(rtc),
            Transport::Rtp(_) | Transport::Remote(_) => None,
        }
    }

    /// The owning shard and peer index, when this stands for a member on another shard.
    pub(crate) fn remote(&self) -> Option<RemoteMember> {
        match &self.transport {
            Transport::Remote(remote) => Some(*remote),
            _ => None,
        }
    }

    /// Whether what this peer sends of `kind` is muted.
    pub(crate) fn muted(&self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Audio => self.audio_muted,
            MediaKind::Video => self.video_muted,
        }
    }

    /// Index of the line with `mid`.
    pub(crate) fn line_of(&self, mid: Mid) -> Option<usize> {
        self.lines.iter().position(|l| l.mid == mid)
    }

    /// Number of slots of `kind` carrying a source.
    pub(crate) fn used_slots(&self, kind: MediaKind) -> usize {
        self.lines
            .iter()
            .filter(|l| l.kind == kind && l.slot.as_ref().is_some_and(|s| s.source.is_some()))
            .count()
    }

    /// Number of slots (send-capable m-lines) of `kind`.
    pub(crate) fn slots(&self, kind: MediaKind) -> usize {
        self.lines
            .iter()
            .filter(|l| l.kind == kind && l.slot.is_some())
            .count()
    }

    /// The line index of the first slot of `kind`.
    pub(crate) fn first_slot(&self, kind: MediaKind) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| l.kind == kind && l.slot.is_some())
    }

    /// The source this peer publishes of `kind`, if any.
    pub(crate) fn published(&self, kind: MediaKind) -> Option<usize> {
        self.lines
            .iter()
            .filter(|l| l.kind == kind)
            .find_map(|l| l.source)
    }

    /// Whether one of this peer's slots carries `source`.
    pub(crate) fn subscribes(&self, source: usize) -> bool {
        self.lines
            .iter()
            .any(|l| l.slot.as_ref().is_some_and(|s| s.source == Some(source)))
    }
}
