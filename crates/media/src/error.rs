//! Errors returned by the control API.

use crate::ids::{MemberId, RoomId};

/// Why a control request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The configuration cannot be used (bad address, no free port, ...).
    #[error("invalid media configuration: {0}")]
    Config(String),
    /// A room with this id already exists.
    #[error("room {0} already exists")]
    RoomExists(RoomId),
    /// No room with this id.
    #[error("no room {0}")]
    NoSuchRoom(RoomId),
    /// A member with this id already exists.
    #[error("member {0} already exists")]
    MemberExists(MemberId),
    /// No member with this id.
    #[error("no member {0}")]
    NoSuchMember(MemberId),
    /// The room is full.
    #[error("room {0} is full")]
    RoomFull(RoomId),
    /// The remote SDP could not be parsed or accepted.
    #[error("bad SDP: {0}")]
    Sdp(String),
    /// The request is not valid in the member's current state (e.g. an answer with no offer pending).
    #[error("invalid state: {0}")]
    State(String),
    /// Key presses cannot be sent: not DTMF keys, too many, or the leg negotiated no
    /// telephone-event.
    #[error("cannot send DTMF: {0}")]
    Dtmf(String),
    /// A plain-RTP leg's SRTP keys cannot be used: an unknown crypto suite, a malformed key, or
    /// keys of two profiles.
    #[error("SRTP: {0}")]
    Srtp(String),
    /// The feature is not implemented yet.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The engine has shut down.
    #[error("media engine stopped")]
    Stopped,
}
