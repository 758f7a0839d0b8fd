//! Events the engine reports to its controller.

use serde::Serialize;

use crate::ids::{MemberId, RoomId};

/// Connection state of one member's media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum MemberState {
    /// ICE and DTLS are up; media flows.
    Connected,
    /// The connection failed or was torn down by the engine; the member is gone.
    Failed(String),
    /// The member was removed or the peer closed the connection; the member is gone.
    Closed,
}

/// Per-member counters, reported about once a second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberStats {
    /// RTP packets received from the member.
    pub packets_in: u64,
    /// RTP packets forwarded or sent to the member.
    pub packets_out: u64,
    /// Bytes of RTP payload received from the member.
    pub bytes_in: u64,
    /// Bytes of RTP payload sent to the member.
    pub bytes_out: u64,
    /// Datagrams a plain-RTP leg dropped because they came from another address than its
    /// latched source (see [`crate::MediaEngine::add_rtp_leg`]).
    pub foreign_dropped: u64,
    /// Datagrams an SRTP plain-RTP leg dropped because they did not unprotect under the peer's
    /// key: failed authentication (sent in the clear or with another key), replayed, or malformed.
    pub srtp_failed: u64,
    /// Latest round-trip time, if known.
    pub rtt_ms: Option<u32>,
    /// Latest egress bandwidth estimate for the member, if known.
    pub bwe_bps: Option<u64>,
}

/// Something the controller (signaling) may want to act on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MediaEvent {
    /// A member's media connection changed state.
    MemberState {
        /// The room.
        room: RoomId,
        /// The member.
        member: MemberId,
        /// The new state.
        state: MemberState,
    },
    /// A member started or stopped talking.
    Talking {
        /// The room.
        room: RoomId,
        /// The member.
        member: MemberId,
        /// Whether the member is talking now.
        talking: bool,
        /// Smoothed audio level, 0 (silence) to 100 (loudest).
        level: u8,
    },
    /// The room's active (loudest) speaker changed.
    ActiveSpeaker {
        /// The room.
        room: RoomId,
        /// The new active speaker.
        member: MemberId,
        /// The previous active speaker, if any.
        previous: Option<MemberId>,
    },
    /// A publisher was asked for a keyframe (a subscriber joined, switched or lost packets).
    KeyframeRequested {
        /// The room.
        room: RoomId,
        /// The publishing member that was asked.
        member: MemberId,
    },
    /// The simulcast layers of a member's video that anyone receives changed. An SFU-aware
    /// publisher need send only `rids` and may pause the others until they are named again. A
    /// layer is left out once it has gone unreceived for two seconds, and named again as soon as
    /// a subscriber needs it (it is then switched to on its next keyframe).
    LayersWanted {
        /// The room.
        room: RoomId,
        /// The publishing member.
        member: MemberId,
        /// The m-line carrying the simulcast video.
        mid: String,
        /// The layers (RIDs) someone receives, lowest bitrate first.
        rids: Vec<String>,
    },
    /// A plain-RTP leg's peer pressed a key (RFC 4733 telephone-event), reported when released.
    Dtmf {
        /// The room.
        room: RoomId,
        /// The leg.
        member: MemberId,
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
        /// How long the key was held.
        duration_ms: u32,
    },
    /// Periodic counters for one member.
    Stats {
        /// The room.
        room: RoomId,
        /// The member.
        member: MemberId,
        /// The counters.
        stats: MemberStats,
    },
}
