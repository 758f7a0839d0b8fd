//! The parsed form of an SDP: only what a SIP audio leg needs.

use std::fmt;
use std::net::IpAddr;

/// A parsed session description (RFC 4566), reduced to what an audio leg needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// The `o=` line, if present and well formed. Compare two of these to detect whether a
    /// re-offer changed the session (RFC 3264 §8: an unchanged version means "no change").
    pub origin: Option<Origin>,
    /// The session-level `c=` address, used by media without their own `c=` line.
    pub connection: Option<IpAddr>,
    /// The session-level direction attribute, if any (media-level attributes override it).
    pub direction: Option<Direction>,
    /// The `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

/// The fields of an `o=` line, kept as text (equality is all re-INVITE handling needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The `<username>` field (`-` when the peer has none).
    pub username: String,
    /// The `<sess-id>` field.
    pub session_id: String,
    /// The `<sess-version>` field; a peer increments it whenever the session changes.
    pub session_version: String,
    /// The `<unicast-address>` field (empty if the line was cut short).
    pub address: String,
}

/// One `m=` section with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type (`audio`, `video`, ...).
    pub kind: MediaKind,
    /// The transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The transport protocol.
    pub proto: Proto,
    /// The format list as written (payload type numbers for RTP protocols).
    pub formats: Vec<String>,
    /// The media-level `c=` address, which wins over the session-level one.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// `a=maxptime` in milliseconds.
    pub maxptime: Option<u32>,
    /// The media-level direction attribute, if any.
    pub direction: Option<Direction>,
    /// `a=rtcp`: an explicit RTCP port and optional address (RFC 3605).
    pub rtcp: Option<RtcpAttribute>,
    /// `a=rtcp-mux` (RFC 5761).
    pub rtcp_mux: bool,
    /// `a=crypto` lines (RFC 4568), in the order offered.
    pub crypto: Vec<CryptoAttribute>,
}

/// A media type from an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// Anything else (`application`, `image`, `text`, ...), as written.
    Other(String),
}

/// A transport protocol from an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proto {
    /// `RTP/AVP`: plain RTP.
    RtpAvp,
    /// `RTP/SAVP`: SRTP (keyed here with SDES `a=crypto`).
    RtpSavp,
    /// Anything else (`RTP/AVPF`, `UDP/TLS/RTP/SAVP`, `udptl`, ...), as written.
    Other(String),
}

/// A media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

/// An `a=rtpmap:<pt> <encoding>/<clock-rate>[/<channels>]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type.
    pub payload_type: u8,
    /// The encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count, if given.
    pub channels: Option<u8>,
}

/// An `a=fmtp:<pt> <parameters>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The payload type.
    pub payload_type: u8,
    /// The format parameters, unparsed.
    pub params: String,
}

/// An `a=rtcp:<port> [IN IP4|IP6 <address>]` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpAttribute {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the media's `c=` address.
    pub address: Option<IpAddr>,
}

/// An `a=crypto:<tag> <suite> <key-params> [<session-params>...]` line (RFC 4568).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag that identifies this line in the answer.
    pub tag: u32,
    /// The crypto-suite name as written.
    pub suite: String,
    /// The key parameters as written, e.g. `inline:<base64>|2^31|1:1`.
    pub key_params: String,
    /// Session parameters (`KDR=`, `UNENCRYPTED_SRTP`, ...), if any.
    pub session_params: Vec<String>,
}

impl SessionDescription {
    /// The address media `index` is sent to: its own `c=` if any, else the session-level one.
    pub fn media_connection(&self, index: usize) -> Option<IpAddr> {
        self.media
            .get(index)
            .and_then(|m| m.connection)
            .or(self.connection)
    }

    /// The direction of media `index`: its own attribute, else the session-level one, else
    /// sendrecv.
    pub fn media_direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(|m| m.direction)
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }
}

impl MediaDescription {
    /// The `a=fmtp` parameters for a payload type, if any.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|f| f.payload_type == payload_type)
            .map(|f| f.params.as_str())
    }

    /// The payload types in the format list, in order, skipping entries that are not numbers
    /// in 0..=127.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= 127)
    }

    /// The `(encoding, clock rate, channels)` of a payload type: its `a=rtpmap`, else the static
    /// assignment of RFC 3551 for PCMU (0) and PCMA (8).
    pub fn encoding_of(&self, payload_type: u8) -> Option<(&str, u32, Option<u8>)> {
        if let Some(map) = self.rtpmaps.iter().find(|m| m.payload_type == payload_type) {
            return Some((map.encoding.as_str(), map.clock_rate, map.channels));
        }
        match payload_type {
            0 => Some(("PCMU", 8000, None)),
            8 => Some(("PCMA", 8000, None)),
            _ => None,
        }
    }
}

impl MediaKind {
    /// Classifies an `m=` media token.
    pub fn from_token(token: &str) -> Self {
        if token.eq_ignore_ascii_case("audio") {
            MediaKind::Audio
        } else if token.eq_ignore_ascii_case("video") {
            MediaKind::Video
        } else {
            MediaKind::Other(token.to_owned())
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaKind::Audio => f.write_str("audio"),
            MediaKind::Video => f.write_str("video"),
            MediaKind::Other(kind) => f.write_str(kind),
        }
    }
}

impl Proto {
    /// Classifies an `m=` proto token.
    pub fn from_token(token: &str) -> Self {
        if token.eq_ignore_ascii_case("RTP/AVP") {
            Proto::RtpAvp
        } else if token.eq_ignore_ascii_case("RTP/SAVP") {
            Proto::RtpSavp
        } else {
            Proto::Other(token.to_owned())
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proto::RtpAvp => f.write_str("RTP/AVP"),
            Proto::RtpSavp => f.write_str("RTP/SAVP"),
            Proto::Other(proto) => f.write_str(proto),
        }
    }
}

impl Direction {
    /// Parses a direction attribute name.
    pub fn from_attribute(name: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.attribute()))
    }

    /// The attribute name (`sendrecv`, ...).
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction the other side uses in reply (RFC 3264 §6.1): sendonly ↔ recvonly,
    /// sendrecv and inactive unchanged.
    pub fn mirror(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction allowing only what both allow.
    pub fn intersect(self, other: Direction) -> Self {
        match (
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        ) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}
