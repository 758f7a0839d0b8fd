//! Small value types used by the control API.

use serde::{Deserialize, Serialize};
use str0m::format::Codec;

use crate::g711::Law;
use crate::leg_keys::LegSrtp;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

impl From<str0m::media::MediaKind> for MediaKind {
    fn from(kind: str0m::media::MediaKind) -> Self {
        match kind {
            str0m::media::MediaKind::Audio => Self::Audio,
            str0m::media::MediaKind::Video => Self::Video,
        }
    }
}

/// Options for a new room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RoomOptions {
    /// Largest number of members; `None` uses the engine's `max_members_per_room`.
    pub max_members: Option<usize>,
}

/// Initial state of a new member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MemberOptions {
    /// Start with the member's audio not forwarded (and not mixed).
    pub audio_muted: bool,
    /// Start with the member's video not forwarded.
    pub video_muted: bool,
    /// Start with the member receiving no audio.
    pub deaf: bool,
}

/// What an engine-made offer (inbound call leg) contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OfferOptions {
    /// Offer one sendrecv audio m-line.
    pub audio: bool,
    /// Offer one sendrecv video m-line.
    pub video: bool,
}

impl Default for OfferOptions {
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
        }
    }
}

/// A simulcast layer, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoLayer {
    /// The lowest resolution layer.
    Low,
    /// The middle layer.
    Medium,
    /// The highest resolution layer.
    High,
}

/// A subscriber's preference for simulcast layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LayerPreference {
    /// Never forward a layer above this one, whatever the bandwidth allows.
    pub max_layer: VideoLayer,
    /// Cap on the bandwidth estimate used for layer selection (e.g. a "low data" setting); the
    /// lower of this and the TWCC estimate applies.
    pub max_bitrate_bps: Option<u64>,
}

impl Default for LayerPreference {
    fn default() -> Self {
        Self {
            max_layer: VideoLayer::High,
            max_bitrate_bps: None,
        }
    }
}

/// Codec of a plain-RTP leg. A G.711 leg's audio is transcoded to and from Opus for WebRTC
/// members that did not negotiate its codec, and mixed with theirs in rooms of three or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtpCodec {
    /// Opus, 48 kHz.
    Opus,
    /// G.711 µ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
}

impl RtpCodec {
    /// The codec of a str0m codec, if it is one of ours.
    pub fn of(codec: Codec) -> Option<Self> {
        match codec {
            Codec::Opus => Some(Self::Opus),
            Codec::PCMU => Some(Self::Pcmu),
            Codec::PCMA => Some(Self::Pcma),
            _ => None,
        }
    }

    /// The str0m codec.
    pub fn codec(self) -> Codec {
        match self {
            Self::Opus => Codec::Opus,
            Self::Pcmu => Codec::PCMU,
            Self::Pcma => Codec::PCMA,
        }
    }

    /// The G.711 law, unless this is Opus.
    pub fn law(self) -> Option<Law> {
        match self {
            Self::Opus => None,
            Self::Pcmu => Some(Law::Mu),
            Self::Pcma => Some(Law::A),
        }
    }

    /// The RTP clock rate (and sample rate).
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => crate::mixer::SAMPLE_RATE,
            Self::Pcmu | Self::Pcma => crate::g711::RATE,
        }
    }
}

/// A plain-RTP leg: audio only, in the clear or SDES-SRTP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RtpLegOptions {
    /// The codec both directions use.
    pub codec: RtpCodec,
    /// The payload type both directions use.
    pub payload_type: u8,
    /// Where to send, if known from the remote SDP. Either way the leg latches onto the source of
    /// the first RTP packet it receives within its learning window (symmetric RTP, for phones
    /// behind NAT), and from then on accepts media from that source only.
    pub remote: Option<std::net::SocketAddr>,
    /// The payload type of `telephone-event/8000` (RFC 4733) in the leg's SDP, if negotiated: key
    /// presses become [`crate::MediaEvent::Dtmf`], and [`crate::MediaEngine::send_dtmf`] works.
    #[serde(default)]
    pub telephone_event: Option<u8>,
    /// SDES-SRTP keys (RFC 4568), if the leg is encrypted; `None`: plain RTP.
    #[serde(default)]
    pub srtp: Option<LegSrtp>,
    /// Initial mute/deaf state.
    #[serde(default)]
    pub member: MemberOptions,
}

impl RtpLegOptions {
    /// The negotiated part of the options.
    pub(crate) fn config(&self) -> RtpLegConfig {
        RtpLegConfig {
            codec: self.codec,
            payload_type: self.payload_type,
            telephone_event: self.telephone_event,
            remote: self.remote,
            srtp: self.srtp.clone(),
        }
    }
}

/// What the remote SDP (typically the answer) settled for a plain-RTP leg, applied with
/// [`crate::MediaEngine::configure_rtp_leg`]: it replaces what the leg was created with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RtpLegConfig {
    /// The codec both directions use.
    pub codec: RtpCodec,
    /// The payload type both directions use.
    pub payload_type: u8,
    /// The payload type of `telephone-event/8000` (RFC 4733), if negotiated.
    #[serde(default)]
    pub telephone_event: Option<u8>,
    /// Where to send, from the remote SDP; `None` leaves it to latching. A new learning window
    /// opens either way.
    #[serde(default)]
    pub remote: Option<std::net::SocketAddr>,
    /// SDES-SRTP keys (RFC 4568), if the leg is encrypted; `None`: plain RTP. Keys equal to the
    /// leg's current ones keep its SRTP state (rollover counters, replay windows); a new key
    /// starts its direction afresh.
    #[serde(default)]
    pub srtp: Option<LegSrtp>,
}
