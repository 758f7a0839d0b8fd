//! The boundary to the media engine: what the controller asks of it and what it reports back.
//!
//! Ids are the controller's strings: a room id is a room session id (a video room or a 1:1
//! call), a member id is one leg's media (a WebRTC peer connection or a plain-RTP leg).

use std::future::Future;
use std::net::SocketAddr;

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

/// An audio codec of a plain-RTP leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtpCodec {
    /// Opus, 48 kHz.
    Opus,
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

/// SDES-SRTP keys of a plain-RTP leg (RFC 4568), as the SDP carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKeys {
    /// The crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// Our key-params (`inline:…`): what Weft encrypts with.
    pub local: String,
    /// The peer's key-params: what Weft decrypts with.
    pub remote: String,
}

/// A plain-RTP leg's media as negotiated by its front-end (a SIP dialog's SDP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpParams {
    /// The codec both directions use.
    pub codec: RtpCodec,
    /// Its payload type.
    pub payload_type: u8,
    /// The payload type of `telephone-event/8000`, if negotiated.
    pub telephone_event: Option<u8>,
    /// Where the peer receives RTP (from its SDP).
    pub remote: Option<SocketAddr>,
    /// SRTP keys, when the leg is encrypted.
    pub srtp: Option<SdesKeys>,
}

/// The media a front-end brings for a leg: an SDP offer or answer of a WebRTC client, the
/// negotiated parameters of a plain-RTP leg, or a source member the front-end added itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteMedia {
    /// A WebRTC SDP (the browser SDK's offer or answer).
    WebRtc(String),
    /// A plain-RTP leg (SIP).
    Rtp(RtpParams),
    /// A source member (a script's voice), added by its front-end where the
    /// [`LocalMedia::Source`] of its ring said; the engine has nothing to apply.
    Source,
}

impl RemoteMedia {
    /// Whether the media carries video (a WebRTC SDP with a video m-line).
    pub fn has_video(&self) -> bool {
        matches!(self, RemoteMedia::WebRtc(sdp) if sdp.contains("m=video"))
    }

    /// The audio codec the leg sends and receives: Opus for WebRTC.
    pub fn codec(&self) -> RtpCodec {
        match self {
            RemoteMedia::Rtp(params) => params.codec,
            RemoteMedia::WebRtc(_) | RemoteMedia::Source => RtpCodec::Opus,
        }
    }
}

/// Where a front-end that produces a call's audio itself (a SWML script) adds its source
/// member: the room, the member id, and the codec the party it talks to hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpot {
    /// The call's room.
    pub room: String,
    /// The source member's id.
    pub member: String,
    /// The codec of the party's leg: the source's frames are encoded in it.
    pub codec: RtpCodec,
    /// The member id of the party (the caller), whose audio a recording taps.
    pub party_member: String,
    /// The party's leg (its call id).
    pub party_leg: String,
}

/// What the engine hands back for a leg: its SDP answer or offer, or its local RTP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalMedia {
    /// A WebRTC SDP.
    Sdp(String),
    /// Where a plain-RTP leg receives (the address for the leg's SDP).
    Rtp(SocketAddr),
    /// Where a front-end adds its source member (no engine call made yet).
    Source(SourceSpot),
}

/// How the engine offers media to a leg it calls out to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A WebRTC peer connection (browser sessions).
    WebRtc,
    /// A plain-RTP leg (SIP contacts).
    Rtp,
    /// A member whose audio Weft produces (SWML scripts): its front-end adds it to the engine.
    Source,
}

/// A request to the media engine.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCall {
    /// Add a member from the remote's media; answers with the local media.
    AddMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The remote offer or RTP parameters.
        media: RemoteMedia,
    },
    /// Create a member for a leg the controller calls out to; answers with the engine's offer.
    OfferMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// WebRTC or plain RTP.
        flavor: Flavor,
        /// Offer video (WebRTC only).
        video: bool,
    },
    /// Apply the callee's answer to an engine offer.
    AcceptAnswer {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The answer.
        answer: RemoteMedia,
    },
    /// Renegotiate; answers with the new local media, if there is one.
    Renegotiate {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The new offer or RTP parameters.
        offer: RemoteMedia,
    },
    /// Mute or unmute.
    SetMuted {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// Audio or video.
        kind: MediaKind,
        /// Muted.
        muted: bool,
    },
    /// Deafen or undeafen.
    SetDeaf {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// Deaf.
        deaf: bool,
    },
    /// Send key presses to a plain-RTP member (RFC 4733).
    SendDtmf {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The digits (`0-9*#A-D`).
        digits: String,
    },
    /// Remove a member.
    RemoveMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
    },
    /// Close a room.
    CloseRoom {
        /// Room id.
        room: String,
    },
    /// Move a member, keeping its transport, into a room (created if need be). Ordered with
    /// the requests of the room it goes to.
    MoveMember {
        /// The room it goes to.
        room: String,
        /// Member id.
        member: String,
    },
}

impl MediaCall {
    /// The room the request is about; requests of one room must run in order.
    pub fn room(&self) -> &str {
        match self {
            MediaCall::AddMember { room, .. }
            | MediaCall::OfferMember { room, .. }
            | MediaCall::AcceptAnswer { room, .. }
            | MediaCall::Renegotiate { room, .. }
            | MediaCall::SetMuted { room, .. }
            | MediaCall::SetDeaf { room, .. }
            | MediaCall::SendDtmf { room, .. }
            | MediaCall::RemoveMember { room, .. }
            | MediaCall::MoveMember { room, .. }
            | MediaCall::CloseRoom { room } => room,
        }
    }
}

/// The answer to a [`MediaCall`]: the local media for calls that produce one.
pub type MediaResult = Result<Option<LocalMedia>, MediaFailure>;

/// Control of the media engine, implemented for `weft_media::MediaEngine` in [`crate::engine`].
///
/// Rooms are created lazily: the first `add_member`/`offer_member` for an unknown room creates
/// it; `close_room` removes it with all its members.
pub trait Media: Send + Sync + 'static {
    /// Adds a member from the remote's offer (WebRTC, non-trickle: the answer has all candidates)
    /// or negotiated RTP parameters; returns the local media.
    fn add_member(
        &self,
        room: &str,
        member: &str,
        media: &RemoteMedia,
    ) -> impl Future<Output = Result<LocalMedia, MediaFailure>> + Send;

    /// Creates a member for a leg the controller calls out to and returns the engine's offer
    /// (WebRTC: an SDP without BUNDLE when it has two m-lines, as the SDK needs; RTP: the leg's
    /// local address, its codec to be set by the answer).
    fn offer_member(
        &self,
        room: &str,
        member: &str,
        flavor: Flavor,
        video: bool,
    ) -> impl Future<Output = Result<LocalMedia, MediaFailure>> + Send;

    /// Applies the callee's answer to an offer made by `offer_member`.
    fn accept_answer(
        &self,
        member: &str,
        answer: &RemoteMedia,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Renegotiates a member from a new remote offer; returns the WebRTC answer, if any.
    fn renegotiate(
        &self,
        member: &str,
        offer: &RemoteMedia,
    ) -> impl Future<Output = Result<Option<LocalMedia>, MediaFailure>> + Send;

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

    /// Sends key presses to a plain-RTP member.
    fn send_dtmf(
        &self,
        member: &str,
        digits: &str,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Removes a member.
    fn remove_member(&self, member: &str) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Closes a room and all its members.
    fn close_room(&self, room: &str) -> impl Future<Output = Result<(), MediaFailure>> + Send;

    /// Moves a member, keeping its transport, into room `to` (created if it does not exist).
    fn move_member(
        &self,
        member: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), MediaFailure>> + Send;
}

/// What the media engine reports; the shell feeds these into the controller.
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
    /// A plain-RTP member pressed a key (RFC 4733).
    Dtmf {
        /// The room id.
        room: String,
        /// The member id.
        member: String,
        /// The key: `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// How long it was held.
        duration_ms: u32,
    },
}
