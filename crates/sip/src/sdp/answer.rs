//! Reading a SIP peer's answer to an offer Weft made with [`build_offer`](super::build_offer).

use thiserror::Error;

use super::build::OfferSpec;
use super::model::{MediaKind, Proto};
use super::negotiate::{
    Encryption, NegotiatedAudio, RemoteAddresses, first_codec, peer_direction, telephone_event_pt,
    usable_crypto,
};
use super::parse::{SdpError, parse};

/// Why a peer's answer cannot be used; the call should be ended (CANCEL/BYE).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// The answer is not valid SDP.
    #[error("invalid SDP answer: {0}")]
    Sdp(#[from] SdpError),
    /// The answer does not have exactly the one m-line Weft offered.
    #[error("the answer has {0} m-lines, the offer had 1")]
    MediaCountMismatch(usize),
    /// The answer's m-line is not audio.
    #[error("the answer's m-line is not audio")]
    NotAudio,
    /// The peer rejected the audio stream (port 0).
    #[error("the peer rejected the audio stream")]
    Rejected,
    /// The answer uses a transport Weft did not offer.
    #[error("the answer uses transport {0}, which was not offered")]
    UnexpectedTransport(String),
    /// None of the answer's formats is a codec Weft offered.
    #[error("the answer has no codec that was offered")]
    NoOfferedCodec,
    /// Weft required SRTP but the answer has no `a=crypto` line.
    #[error("SRTP was required but the answer has no crypto line")]
    EncryptionRequired,
    /// The answer's `a=crypto` lines match none of Weft's by tag and suite.
    #[error("the answer's crypto line matches none offered")]
    CryptoMismatch,
    /// Neither the media nor the session has a `c=` address.
    #[error("the answer has no connection address")]
    NoConnectionAddress,
}

/// Reads a peer's answer to `our_offer`: the codec must be one Weft offered, the `a=crypto`
/// line must match one of Weft's by tag and suite, rtcp-mux applies only if Weft offered it,
/// and Weft's direction is what both sides allow.
pub fn parse_answer(
    answer_sdp: &str,
    our_offer: &OfferSpec,
) -> Result<NegotiatedAudio, AnswerError> {
    let answer = parse(answer_sdp)?;
    if answer.media.len() != 1 {
        return Err(AnswerError::MediaCountMismatch(answer.media.len()));
    }
    let media = &answer.media[0];
    if media.kind != MediaKind::Audio {
        return Err(AnswerError::NotAudio);
    }
    if media.port == 0 {
        return Err(AnswerError::Rejected);
    }
    let offered_crypto = our_offer.encryption != Encryption::Forbidden;
    match (&media.proto, offered_crypto) {
        (Proto::RtpAvp, _) | (Proto::RtpSavp, true) => {}
        (proto, _) => return Err(AnswerError::UnexpectedTransport(proto.to_string())),
    }
    let (codec, payload_type) =
        first_codec(media, &our_offer.codecs).ok_or(AnswerError::NoOfferedCodec)?;
    let crypto = if offered_crypto {
        let matching = media
            .crypto
            .iter()
            .filter_map(usable_crypto)
            .find(|remote| {
                our_offer
                    .crypto
                    .iter()
                    .any(|ours| ours.tag == remote.tag && ours.suite == remote.suite)
            });
        match matching {
            Some(remote) => Some(remote),
            None if !media.crypto.is_empty() => return Err(AnswerError::CryptoMismatch),
            None if our_offer.encryption == Encryption::Required
                || media.proto == Proto::RtpSavp =>
            {
                return Err(AnswerError::EncryptionRequired);
            }
            None => None,
        }
    } else {
        None
    };
    let remote = RemoteAddresses::of(&answer, 0).ok_or(AnswerError::NoConnectionAddress)?;
    let rtcp_mux = our_offer.rtcp_mux && media.rtcp_mux;
    Ok(NegotiatedAudio {
        codec,
        payload_type,
        codec_fmtp: media.fmtp(payload_type).map(str::to_owned),
        telephone_event_pt: telephone_event_pt(media),
        remote_ptime: media.ptime,
        remote_maxptime: media.maxptime,
        remote_rtp: remote.rtp,
        remote_rtcp: if rtcp_mux { remote.rtp } else { remote.rtcp },
        rtcp_mux,
        direction: our_offer
            .direction
            .intersect(peer_direction(&answer, 0).mirror()),
        crypto,
    })
}
