//! Writing Weft's SDP: answers to a peer's offer and offers for calls Weft places.

use std::fmt::Write as _;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use super::codec::{Codec, CryptoSuite, OFFER_TELEPHONE_EVENT_PT, TELEPHONE_EVENT_CLOCK_RATE};
use super::model::{Direction, Proto};
use super::negotiate::{AnswerMedia, AudioAnswer, Encryption};

/// The packetisation interval Weft sends, in milliseconds.
pub const PTIME_MS: u32 = 20;

/// Weft's side of an answered stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address Weft receives media on (written in `o=` and `c=`).
    pub address: IpAddr,
    /// The port Weft receives RTP on (and RTCP, with rtcp-mux; else RTP port + 1).
    pub rtp_port: u16,
    /// The `o=` session id, fixed for the dialog.
    pub session_id: u64,
    /// The `o=` session version, incremented whenever Weft's SDP changes.
    pub session_version: u64,
    /// Weft's own SDES key parameters, `inline:<base64 of key||salt>` (the form the SRTP
    /// crate's `MasterKey::to_sdes_inline` writes; [`CryptoSuite::key_and_salt_len`] random
    /// bytes, no lifetime or MKI), under the suite of the peer's accepted `a=crypto` line.
    /// Required when the answer is encrypted.
    pub srtp_key_params: Option<String>,
}

/// What Weft offers when it places a call to a SIP peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSpec {
    /// The address Weft receives media on.
    pub address: IpAddr,
    /// The port Weft receives RTP on.
    pub rtp_port: u16,
    /// The `o=` session id, fixed for the dialog.
    pub session_id: u64,
    /// The `o=` session version, incremented whenever Weft's SDP changes.
    pub session_version: u64,
    /// The codecs to offer, in preference order; `telephone-event/8000` is always added with
    /// payload type [`OFFER_TELEPHONE_EVENT_PT`].
    pub codecs: Vec<Codec>,
    /// The SRTP policy; see [`Encryption`] for the profile each value offers.
    pub encryption: Encryption,
    /// Weft's `a=crypto` lines, in preference order; needed unless `encryption` is
    /// `Forbidden` (then they are not written).
    pub crypto: Vec<LocalCrypto>,
    /// The direction to offer (`SendOnly` to put the peer on hold).
    pub direction: Direction,
    /// Whether to offer `a=rtcp-mux` (a peer that ignores it sends RTCP to RTP port + 1).
    pub rtcp_mux: bool,
}

/// One of Weft's `a=crypto` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCrypto {
    /// The tag (unique within the offer).
    pub tag: u32,
    /// The crypto suite.
    pub suite: CryptoSuite,
    /// The key parameters, `inline:<base64 of key||salt>` as for
    /// [`LocalMedia::srtp_key_params`].
    pub key_params: String,
}

/// Why Weft's own SDP could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// The answer is encrypted but no local SRTP key was given.
    #[error("the answer is encrypted but no SRTP key was given")]
    MissingSrtpKey,
    /// SRTP key parameters are not `inline:` and base64 of the suite's key-and-salt length.
    #[error("SRTP key parameters are not inline: and base64 of {expected} bytes for {suite}")]
    InvalidSrtpKey {
        /// The suite's name.
        suite: &'static str,
        /// The expected decoded length.
        expected: usize,
    },
    /// An offer needs at least one codec.
    #[error("no codecs to offer")]
    NoCodecs,
    /// An encrypted offer needs at least one `a=crypto` line.
    #[error("encryption is enabled but no crypto lines were given")]
    NoCrypto,
}

/// Writes Weft's answer: one m-line per offered m-line, the accepted audio stream with Weft's
/// address and port, every other stream with port 0.
pub fn build_answer(answer: &AudioAnswer, local: LocalMedia) -> Result<String, BuildError> {
    let audio = &answer.audio;
    let crypto_line = match &audio.crypto {
        Some(remote) => {
            let key_params = local
                .srtp_key_params
                .as_deref()
                .ok_or(BuildError::MissingSrtpKey)?;
            check_key_params(remote.suite, key_params)?;
            Some(format!(
                "a=crypto:{} {} {}",
                remote.tag,
                remote.suite.name(),
                key_params
            ))
        }
        None => None,
    };
    let mut sdp = session_header(local.address, local.session_id, local.session_version);
    for line in &answer.media_lines {
        match line {
            AnswerMedia::Rejected {
                kind,
                proto,
                formats,
            } => {
                let _ = write!(sdp, "m={kind} 0 {proto}");
                for format in formats {
                    let _ = write!(sdp, " {format}");
                }
                sdp.push_str("\r\n");
            }
            AnswerMedia::Audio => {
                let payloads = [(audio.codec, audio.payload_type)];
                write_audio(
                    &mut sdp,
                    local.rtp_port,
                    &answer.proto,
                    &payloads,
                    audio.telephone_event_pt,
                );
                write_audio_tail(
                    &mut sdp,
                    audio.direction,
                    audio.rtcp_mux,
                    crypto_line.iter().map(String::as_str),
                );
            }
        }
    }
    Ok(sdp)
}

/// Writes an offer for a call Weft places: all codecs in order plus `telephone-event/8000`,
/// `RTP/SAVP` with `a=crypto` when encryption is required, `RTP/AVP` with `a=crypto` when
/// optional, plain `RTP/AVP` when forbidden.
pub fn build_offer(spec: &OfferSpec) -> Result<String, BuildError> {
    if spec.codecs.is_empty() {
        return Err(BuildError::NoCodecs);
    }
    let (proto, crypto) = match spec.encryption {
        Encryption::Required => (Proto::RtpSavp, spec.crypto.as_slice()),
        Encryption::Optional => (Proto::RtpAvp, spec.crypto.as_slice()),
        Encryption::Forbidden => (Proto::RtpAvp, &[][..]),
    };
    if spec.encryption != Encryption::Forbidden && crypto.is_empty() {
        return Err(BuildError::NoCrypto);
    }
    let mut crypto_lines = Vec::with_capacity(crypto.len());
    for line in crypto {
        check_key_params(line.suite, &line.key_params)?;
        crypto_lines.push(format!(
            "a=crypto:{} {} {}",
            line.tag,
            line.suite.name(),
            line.key_params
        ));
    }
    let payloads: Vec<(Codec, u8)> = spec
        .codecs
        .iter()
        .map(|codec| (*codec, codec.offer_payload_type()))
        .collect();
    let mut sdp = session_header(spec.address, spec.session_id, spec.session_version);
    write_audio(
        &mut sdp,
        spec.rtp_port,
        &proto,
        &payloads,
        Some(OFFER_TELEPHONE_EVENT_PT),
    );
    write_audio_tail(
        &mut sdp,
        spec.direction,
        spec.rtcp_mux,
        crypto_lines.iter().map(String::as_str),
    );
    Ok(sdp)
}

/// Checks that key parameters are `inline:` and padded base64 of exactly the suite's
/// key-and-salt length (which also keeps them free of anything that could break the line).
fn check_key_params(suite: CryptoSuite, key_params: &str) -> Result<(), BuildError> {
    let expected = suite.key_and_salt_len();
    let key = key_params
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("inline:"))
        .and_then(|_| key_params.get(7..));
    match key.map(|key| STANDARD.decode(key)) {
        Some(Ok(bytes)) if bytes.len() == expected => Ok(()),
        _ => Err(BuildError::InvalidSrtpKey {
            suite: suite.name(),
            expected,
        }),
    }
}

fn session_header(address: IpAddr, session_id: u64, session_version: u64) -> String {
    let addr_type = match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    format!(
        "v=0\r\no=weft {session_id} {session_version} IN {addr_type} {address}\r\ns=weft\r\n\
         c=IN {addr_type} {address}\r\nt=0 0\r\n"
    )
}

/// Writes the `m=audio` line and its rtpmaps and telephone-event fmtp.
fn write_audio(
    sdp: &mut String,
    port: u16,
    proto: &Proto,
    payloads: &[(Codec, u8)],
    telephone_event_pt: Option<u8>,
) {
    let _ = write!(sdp, "m=audio {port} {proto}");
    for (_, pt) in payloads {
        let _ = write!(sdp, " {pt}");
    }
    if let Some(pt) = telephone_event_pt {
        let _ = write!(sdp, " {pt}");
    }
    sdp.push_str("\r\n");
    for (codec, pt) in payloads {
        let _ = write!(sdp, "a=rtpmap:{pt} {}\r\n", codec.rtpmap_value());
    }
    if let Some(pt) = telephone_event_pt {
        let _ = write!(
            sdp,
            "a=rtpmap:{pt} telephone-event/{TELEPHONE_EVENT_CLOCK_RATE}\r\na=fmtp:{pt} 0-16\r\n"
        );
    }
}

/// Writes ptime, direction, rtcp-mux and crypto lines of the audio m-line.
fn write_audio_tail<'a>(
    sdp: &mut String,
    direction: Direction,
    rtcp_mux: bool,
    crypto_lines: impl Iterator<Item = &'a str>,
) {
    let _ = write!(sdp, "a=ptime:{PTIME_MS}\r\na={}\r\n", direction.attribute());
    if rtcp_mux {
        sdp.push_str("a=rtcp-mux\r\n");
    }
    for line in crypto_lines {
        sdp.push_str(line);
        sdp.push_str("\r\n");
    }
}
