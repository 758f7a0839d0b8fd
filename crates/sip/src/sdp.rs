//! The SDP of a SIP call's audio leg (RFC 4566, RFC 3264), narrowly.
//!
//! Weft's SIP legs carry one audio stream: PCMU, PCMA or Opus, plus RFC 4733
//! `telephone-event/8000`, over plain RTP (`RTP/AVP`) or SDES-keyed SRTP (`RTP/SAVP` with
//! RFC 4568 `a=crypto`). This module
//!
//! - parses a peer's SDP tolerantly ([`parse`]),
//! - answers a peer's offer under a [`LegPolicy`] ([`negotiate_answer`], then [`build_answer`]),
//! - writes offers for calls Weft places ([`build_offer`]) and reads the peer's answer
//!   ([`parse_answer`]),
//! - and detects hold ([`is_hold`]).
//!
//! Key material is carried as text: the SRTP layer parses the peer's `inline:` key, and the
//! caller generates Weft's own keys.

mod answer;
mod build;
mod codec;
mod model;
mod negotiate;
mod parse;

#[cfg(test)]
mod tests;

pub use answer::{AnswerError, parse_answer};
pub use build::{
    BuildError, LocalCrypto, LocalMedia, OfferSpec, PTIME_MS, build_answer, build_offer,
};
pub use codec::{
    Codec, CryptoSuite, OFFER_OPUS_PT, OFFER_TELEPHONE_EVENT_PT, TELEPHONE_EVENT_CLOCK_RATE,
};
pub use model::{
    CryptoAttribute, Direction, Fmtp, MediaDescription, MediaKind, Origin, Proto, RtcpAttribute,
    RtpMap, SessionDescription,
};
pub use negotiate::{
    AnswerMedia, AudioAnswer, Encryption, LegPolicy, NegotiatedAudio, NegotiationError,
    RemoteCrypto, is_hold, negotiate_answer,
};
pub use parse::{MAX_FORMATS, MAX_MEDIA_LINES, MAX_SDP_LEN, SdpError, parse};
