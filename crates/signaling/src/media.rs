//! The boundary to the media engine: what signaling asks of it and what it reports back.
//!
//! Ids are the signaling layer's strings: a room id is a room session id (a video room or a
//! 1:1 call), a member id is a room member id (one WebRTC peer connection).

use std::future::Future;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

/// Why a media request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MediaFailure(pub String);

/// Control of the media engine, implemented by the server on top of `weft-media`.
///
/// Rooms are created lazily: the first `add_member`/`offer_member` for an unknown room creates
/// it; `close_room` removes it with all its members.
pub trait Media: Send + Sync + 'static {
    /// Adds a member from the client's SDP offer (non-trickle) and returns the SDP answer
    /// (full candidates inline).
    fn add_member(
        &self,
        room: &str,
        member: &str,
        offer: &str,
    ) -> impl Future<Output = Result<String, MediaFailure>> + Send;

    /// Creates a member for an inbound call leg and returns the engine's offer. The offer must
    /// not use BUNDLE when it has more than one m-line (the SDK cannot answer it).
    fn offer_member(
        &self,
        room: &str,
        member: &str,
        audio: bool,
        video: bool,
    ) -> impl Future<Output = Result<String, MediaFailure>> + Send;

    /// Applies the client's answer to an offer made by `offer_member`.
    fn accept_answer(
        &self,
        member: &str,
        answer: &str,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Renegotiates a member from a new client offer (`updateMedia`, reattach); returns the answer.
    fn renegotiate(
        &self,
        member: &str,
        offer: &str,
    ) -> impl Future<Output = Result<String, MediaFailure>> + Send;

    /// Stops (`true`) or resumes forwarding/mixing one kind of the member's media.
    fn set_muted(
        &self,
        member: &str,
        kind: MediaKind,
        muted: bool,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Stops (`true`) or resumes sending audio to the member.
    fn set_deaf(
        &self,
        member: &str,
        deaf: bool,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Removes a member.
    fn remove_member(&self, member: &str) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Closes a room and all its members.
    fn close_room(&self, room: &str) -> impl Future<Output = Result<(), MediaFailure>> + Send;
}

/// What the media engine reports; the server feeds these into the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A member started or stopped talking.
    Talking {
        /// The room id.
        room: String,
        /// The member id.
        member: String,
        /// Whether the member talks now.
        talking: bool,
    },
    /// The member's media failed (not a removal or a peer that went away to reattach); the
    /// engine no longer holds it.
    MemberGone {
        /// The room id.
        room: String,
        /// The member id.
        member: String,
        /// Why.
        reason: String,
    },
    /// The simulcast layers of the member's video that anyone receives changed; the member
    /// need send only these.
    LayersWanted {
        /// The room id.
        room: String,
        /// The member id (the publisher).
        member: String,
        /// The m-line of the simulcast video.
        mid: String,
        /// The layers (RIDs) someone receives, lowest bitrate first.
        rids: Vec<String>,
    },
}
