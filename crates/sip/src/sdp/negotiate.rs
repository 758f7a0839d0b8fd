//! Answering a SIP peer's audio offer (RFC 3264) under a leg's codec and encryption policy.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use super::codec::{Codec, CryptoSuite, TELEPHONE_EVENT_CLOCK_RATE};
use super::model::{
    CryptoAttribute, Direction, MediaDescription, MediaKind, Proto, SessionDescription,
};

/// How a SIP leg treats SRTP (SDES, RFC 4568).
///
/// Mapping from configuration, answering / offering:
///
/// | Fabric `encryption` | SWML `connect.encryption` | answers with | offers with |
/// |---|---|---|---|
/// | `required` | `mandatory` | `Required` | `Required` |
/// | `optional` | `optional` | `Optional` | `Optional` |
/// | `default` | – | `Optional` | `Forbidden` |
/// | – | `forbidden` | `Forbidden` | `Forbidden` |
///
/// Fabric's `default` means "plain RTP unless the offer is SAVP-only": when answering that is
/// exactly `Optional` (see below); when Weft places the call it offers plain RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// SRTP only. Answering: an `RTP/SAVP` offer, or an `RTP/AVP` offer carrying `a=crypto`
    /// lines (best-effort SRTP), is answered encrypted; a plain offer is refused. Offering:
    /// `RTP/SAVP` with `a=crypto` lines.
    Required,
    /// Either. Answering: `RTP/SAVP` offers are answered encrypted, `RTP/AVP` offers plain
    /// (even with best-effort `a=crypto` lines). Offering: `RTP/AVP` with `a=crypto` lines, so
    /// the peer may answer with or without SRTP (RFC 4568 has no "optional" profile; this is
    /// what many PBXes send and what baresip's `srtp` mode accepts).
    Optional,
    /// Plain RTP only. Answering: `RTP/SAVP` offers are refused, `a=crypto` lines in `RTP/AVP`
    /// offers ignored. Offering: `RTP/AVP` without `a=crypto`.
    Forbidden,
}

/// What a leg accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegPolicy {
    /// The allowed codecs, in Weft's preference order (used for offers; answers follow the
    /// offer's order).
    pub codecs: Vec<Codec>,
    /// The SRTP policy.
    pub encryption: Encryption,
}

/// The peer's SDES key for the negotiated stream: the `a=crypto` line Weft accepted.
///
/// Weft answers with its own key under the same tag and suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCrypto {
    /// The `a=crypto` tag.
    pub tag: u32,
    /// The crypto suite.
    pub suite: CryptoSuite,
    /// The key parameters as the peer wrote them (`inline:<base64>[|lifetime][|MKI:len]`),
    /// for the SRTP layer to parse.
    pub key_params: String,
}

/// The result of negotiating one audio stream with a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// The codec both sides use.
    pub codec: Codec,
    /// The payload type for that codec, as the peer numbers it.
    pub payload_type: u8,
    /// The peer's `a=fmtp` for that codec (e.g. Opus parameters), if any.
    pub codec_fmtp: Option<String>,
    /// The peer's `telephone-event/8000` payload type, if it offered one.
    pub telephone_event_pt: Option<u8>,
    /// The peer's `a=ptime`, if any.
    pub remote_ptime: Option<u32>,
    /// The peer's `a=maxptime`, if any.
    pub remote_maxptime: Option<u32>,
    /// Where to send RTP. An unspecified address (`0.0.0.0`, `::`) means old-style hold.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: `remote_rtp` with rtcp-mux, else the `a=rtcp` port (and address),
    /// else RTP port + 1.
    pub remote_rtcp: SocketAddr,
    /// Whether RTP and RTCP share a port (both sides agreed to `a=rtcp-mux`).
    pub rtcp_mux: bool,
    /// The direction Weft uses on this stream.
    pub direction: Direction,
    /// The peer's SRTP key when the stream is encrypted; `None` for plain RTP.
    pub crypto: Option<RemoteCrypto>,
}

/// Everything needed to answer an offer: the negotiated stream plus the answer's m-line layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioAnswer {
    /// The accepted audio stream.
    pub audio: NegotiatedAudio,
    /// The transport of the accepted m-line, echoed in the answer.
    pub proto: Proto,
    /// One entry per offered m-line, in order (RFC 3264 §6).
    pub media_lines: Vec<AnswerMedia>,
}

/// How one offered m-line appears in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerMedia {
    /// The accepted audio stream.
    Audio,
    /// A stream answered with port 0, echoing the offer's media, proto and formats.
    Rejected {
        /// The offered media type.
        kind: MediaKind,
        /// The offered transport.
        proto: Proto,
        /// The offered formats.
        formats: Vec<String>,
    },
}

/// Why an offer cannot be accepted; the SIP layer answers `488 Not Acceptable Here`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NegotiationError {
    /// The offer has no audio m-line with a non-zero port.
    #[error("the offer has no active audio stream")]
    NoAudio,
    /// The audio stream uses a transport other than `RTP/AVP` or `RTP/SAVP`.
    #[error("unsupported audio transport {0}")]
    UnsupportedTransport(String),
    /// None of the offered codecs is allowed.
    #[error("no codec in common")]
    NoCommonCodec,
    /// The policy requires SRTP but the offer is plain RTP.
    #[error("encryption is required but the offer is plain RTP")]
    EncryptionRequired,
    /// The offer is `RTP/SAVP` but the policy forbids SRTP.
    #[error("the offer requires SRTP but encryption is forbidden")]
    EncryptionForbidden,
    /// SRTP is to be used but no `a=crypto` line has a supported suite and plain inline key.
    #[error("no supported SDES crypto suite offered")]
    NoSupportedCryptoSuite,
    /// Neither the media nor the session has a `c=` address.
    #[error("the audio stream has no connection address")]
    NoConnectionAddress,
}

/// Answers an offer: accepts the first audio m-line with a non-zero port that the policy can
/// take (normally the first one; a later one only when the first fails, e.g. an `RTP/AVP`
/// alternative to an `RTP/SAVP` stream) and rejects every other m-line. When none can be
/// accepted, the error concerns the first candidate.
///
/// Within the stream: the first offered codec (offer order) the policy allows, the
/// `telephone-event/8000` payload type if offered, the mirror of the offer's direction, and
/// the first `a=crypto` line with a supported suite, an `inline:` key and no session
/// parameters (those are refused, as RFC 4568 §6.3 allows, rather than half-supported).
pub fn negotiate_answer(
    offer: &SessionDescription,
    policy: &LegPolicy,
) -> Result<AudioAnswer, NegotiationError> {
    let mut first_error = None;
    for (index, media) in offer.media.iter().enumerate() {
        if media.kind != MediaKind::Audio || media.port == 0 {
            continue;
        }
        match accept_audio(offer, index, policy) {
            Ok(audio) => {
                return Ok(AudioAnswer {
                    audio,
                    proto: media.proto.clone(),
                    media_lines: answer_layout(offer, index),
                });
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or(NegotiationError::NoAudio))
}

/// Whether the peer puts the call on hold: its active audio stream is `sendonly` or
/// `inactive`, or has an unspecified connection address (RFC 2543 style `c=0.0.0.0`).
pub fn is_hold(sdp: &SessionDescription) -> bool {
    let Some(index) = sdp
        .media
        .iter()
        .position(|m| m.kind == MediaKind::Audio && m.port != 0)
    else {
        return false;
    };
    let unspecified = sdp
        .media_connection(index)
        .is_some_and(|address| address.is_unspecified());
    unspecified || !sdp.media_direction(index).receives()
}

fn answer_layout(offer: &SessionDescription, accepted: usize) -> Vec<AnswerMedia> {
    offer
        .media
        .iter()
        .enumerate()
        .map(|(index, media)| {
            if index == accepted {
                AnswerMedia::Audio
            } else {
                AnswerMedia::Rejected {
                    kind: media.kind.clone(),
                    proto: media.proto.clone(),
                    formats: media.formats.clone(),
                }
            }
        })
        .collect()
}

fn accept_audio(
    offer: &SessionDescription,
    index: usize,
    policy: &LegPolicy,
) -> Result<NegotiatedAudio, NegotiationError> {
    let media = &offer.media[index];
    let encrypted = match (&media.proto, policy.encryption) {
        (Proto::RtpSavp, Encryption::Forbidden) => {
            return Err(NegotiationError::EncryptionForbidden);
        }
        (Proto::RtpSavp, _) => true,
        (Proto::RtpAvp, Encryption::Required) if media.crypto.is_empty() => {
            return Err(NegotiationError::EncryptionRequired);
        }
        (Proto::RtpAvp, Encryption::Required) => true,
        (Proto::RtpAvp, _) => false,
        (Proto::Other(proto), _) => {
            return Err(NegotiationError::UnsupportedTransport(proto.clone()));
        }
    };
    let (codec, payload_type) =
        first_codec(media, &policy.codecs).ok_or(NegotiationError::NoCommonCodec)?;
    let crypto = if encrypted {
        Some(
            media
                .crypto
                .iter()
                .find_map(usable_crypto)
                .ok_or(NegotiationError::NoSupportedCryptoSuite)?,
        )
    } else {
        None
    };
    let remote = RemoteAddresses::of(offer, index).ok_or(NegotiationError::NoConnectionAddress)?;
    Ok(NegotiatedAudio {
        codec,
        payload_type,
        codec_fmtp: media.fmtp(payload_type).map(str::to_owned),
        telephone_event_pt: telephone_event_pt(media),
        remote_ptime: media.ptime,
        remote_maxptime: media.maxptime,
        remote_rtp: remote.rtp,
        remote_rtcp: if media.rtcp_mux {
            remote.rtp
        } else {
            remote.rtcp
        },
        rtcp_mux: media.rtcp_mux,
        direction: peer_direction(offer, index).mirror(),
        crypto,
    })
}

/// The codec a payload type of `media` carries, if Weft knows it.
/// The first of the media's formats (in its order) whose codec is `allowed`, and its payload type.
pub(super) fn first_codec(media: &MediaDescription, allowed: &[Codec]) -> Option<(Codec, u8)> {
    media.payload_types().find_map(|pt| {
        codec_of(media, pt)
            .filter(|c| allowed.contains(c))
            .map(|c| (c, pt))
    })
}

pub(super) fn codec_of(media: &MediaDescription, payload_type: u8) -> Option<Codec> {
    let (name, rate, channels) = media.encoding_of(payload_type)?;
    Codec::from_encoding(name, rate, channels)
}

/// The first `telephone-event/8000` payload type listed in `media`.
pub(super) fn telephone_event_pt(media: &MediaDescription) -> Option<u8> {
    media.payload_types().find(|pt| {
        media.encoding_of(*pt).is_some_and(|(name, rate, _)| {
            name.eq_ignore_ascii_case("telephone-event") && rate == TELEPHONE_EVENT_CLOCK_RATE
        })
    })
}

/// An `a=crypto` line Weft can use: supported suite, an `inline:` key, no session parameters.
pub(super) fn usable_crypto(line: &CryptoAttribute) -> Option<RemoteCrypto> {
    let suite = CryptoSuite::from_name(&line.suite)?;
    let inline = line.key_params.get(..7)?;
    let usable = inline.eq_ignore_ascii_case("inline:")
        && line.session_params.is_empty()
        && key_is_usable(suite, &line.key_params[7..]);
    usable.then(|| RemoteCrypto {
        tag: line.tag,
        suite,
        key_params: line.key_params.clone(),
    })
}

/// Whether an `inline:` key (after the prefix) is base64 of exactly the suite's key-and-salt
/// length, with at most a lifetime after it: a key the SRTP layer would refuse (an MKI, a
/// wrong length, bad base64) makes the line unusable, so the offer is refused while it is
/// negotiated (488) rather than when its media is set up.
fn key_is_usable(suite: CryptoSuite, params: &str) -> bool {
    use base64::Engine as _;
    let mut parts = params.split('|');
    let key = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    if rest.len() > 1 || rest.iter().any(|p| p.contains(':')) {
        return false;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(key).ok())
        .any(|bytes| bytes.len() == suite.key_and_salt_len())
}

/// The peer's direction for media `index`; an unspecified connection address (old-style
/// hold) means the peer does not want to receive.
pub(super) fn peer_direction(sdp: &SessionDescription, index: usize) -> Direction {
    let direction = sdp.media_direction(index);
    if sdp
        .media_connection(index)
        .is_some_and(|address| address.is_unspecified())
    {
        direction.intersect(Direction::SendOnly)
    } else {
        direction
    }
}

/// The peer's RTP and (non-multiplexed) RTCP addresses for media `index`.
pub(super) struct RemoteAddresses {
    pub(super) rtp: SocketAddr,
    pub(super) rtcp: SocketAddr,
}

impl RemoteAddresses {
    pub(super) fn of(sdp: &SessionDescription, index: usize) -> Option<Self> {
        let media = sdp.media.get(index)?;
        let address: IpAddr = sdp.media_connection(index)?;
        let rtcp = match media.rtcp {
            Some(rtcp) => SocketAddr::new(rtcp.address.unwrap_or(address), rtcp.port),
            None => SocketAddr::new(address, media.port.checked_add(1).unwrap_or(media.port)),
        };
        Some(RemoteAddresses {
            rtp: SocketAddr::new(address, media.port),
            rtcp,
        })
    }
}
