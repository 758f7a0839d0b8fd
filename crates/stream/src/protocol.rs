//! The media-stream WebSocket messages (the Twilio Media Streams protocol as SignalWire's `stream`
//! speaks it), as serde types with the wire's exact field names.
//!
//! Weft is the client; every message is one JSON text frame.
//!
//! - Weft → agent ([`ToAgent`]): `connected`, `start`, `media`, `dtmf`, `mark` (an acknowledgement
//!   of the agent's mark), `stop`. Every message but `connected` carries a `sequenceNumber`, a
//!   decimal string counting from `"1"` (the `start`); `media.chunk` counts from `"1"` and
//!   `media.timestamp` is milliseconds since the stream started, both strings too.
//! - Agent → Weft ([`FromAgent`]): `media` (`media.payload`, base64), `mark` (`mark.name`),
//!   `clear`. Other events are [`FromAgent::Unknown`]; fields the protocol does not use (such as
//!   `streamSid`) are ignored.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `protocol` of the `connected` message.
pub const PROTOCOL: &str = "Call";
/// The `version` of the `connected` message (SignalWire's stream protocol version).
pub const VERSION: &str = "0.2.0";
/// The track value of `dtmf.track` (Twilio documents it as always `inbound_track`).
pub const DTMF_TRACK: &str = "inbound_track";

/// A non-negative integer the protocol writes as a decimal string (`"1"`, `"20"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(pub u64);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse()
            .map(Decimal)
            .map_err(|_| serde::de::Error::custom("expected a decimal string"))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A media track named in `start.tracks` and `media.track`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// The caller's audio, sent to the agent.
    Inbound,
    /// The audio played to the caller.
    Outbound,
}

/// `start.mediaFormat`: the encoding of every `media.payload`, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat<'a> {
    /// `audio/x-mulaw` or `audio/x-L16`.
    pub encoding: Cow<'a, str>,
    /// Hz: 8000 for µ-law; 8000, 16000 or 24000 for L16.
    pub sample_rate: u32,
    /// Always 1.
    pub channels: u32,
}

/// The body of `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody<'a> {
    /// The stream's id (also at the message's top level).
    pub stream_sid: Cow<'a, str>,
    /// The account (Weft: the project) that owns the call.
    pub account_sid: Cow<'a, str>,
    /// The call's id.
    pub call_sid: Cow<'a, str>,
    /// The tracks the stream carries.
    pub tracks: Vec<Track>,
    /// Free-form string parameters for the agent.
    pub custom_parameters: BTreeMap<String, String>,
    /// The payload format.
    pub media_format: MediaFormat<'a>,
}

/// The body of a Weft → agent `media`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaBody<'a> {
    /// Always [`Track::Inbound`] (the caller's audio).
    pub track: Track,
    /// Counts the stream's media messages from 1.
    pub chunk: Decimal,
    /// Milliseconds since the stream started.
    pub timestamp: Decimal,
    /// The audio, base64 (standard alphabet, padded).
    pub payload: Cow<'a, str>,
}

/// The body of a `dtmf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtmfBody<'a> {
    /// Always [`DTMF_TRACK`].
    pub track: Cow<'a, str>,
    /// The key: `0`-`9`, `*`, `#`, `A`-`D`.
    pub digit: Cow<'a, str>,
}

/// The body of a `mark`, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkBody<'a> {
    /// The name the agent chose.
    pub name: Cow<'a, str>,
}

/// The body of a `stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopBody<'a> {
    /// As in `start`.
    pub account_sid: Cow<'a, str>,
    /// As in `start`.
    pub call_sid: Cow<'a, str>,
}

/// A message from Weft to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum ToAgent<'a> {
    /// The first message: `{"event":"connected","protocol":"Call","version":"0.2.0"}`.
    Connected {
        /// [`PROTOCOL`].
        protocol: Cow<'a, str>,
        /// [`VERSION`].
        version: Cow<'a, str>,
    },
    /// The stream's metadata, once, right after `connected`.
    Start {
        /// `"1"`.
        #[serde(rename = "sequenceNumber")]
        sequence_number: Decimal,
        /// The stream's id.
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        /// The metadata.
        start: StartBody<'a>,
    },
    /// 20 ms of the caller's audio.
    Media {
        /// Message order.
        #[serde(rename = "sequenceNumber")]
        sequence_number: Decimal,
        /// The stream's id.
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        /// The audio.
        media: MediaBody<'a>,
    },
    /// A key the caller pressed.
    Dtmf {
        /// Message order.
        #[serde(rename = "sequenceNumber")]
        sequence_number: Decimal,
        /// The stream's id.
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        /// The key.
        dtmf: DtmfBody<'a>,
    },
    /// The agent's mark, sent back once the audio queued before it has played (or was cleared).
    Mark {
        /// Message order.
        #[serde(rename = "sequenceNumber")]
        sequence_number: Decimal,
        /// The stream's id.
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        /// The mark.
        mark: MarkBody<'a>,
    },
    /// The last message.
    Stop {
        /// Message order.
        #[serde(rename = "sequenceNumber")]
        sequence_number: Decimal,
        /// The stream's id.
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        /// The call.
        stop: StopBody<'a>,
    },
}

impl ToAgent<'_> {
    /// The message as one JSON text frame.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every map key is a string and no value is a float.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A message from the agent, parsed by [`FromAgent::parse`]; borrows from the frame's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromAgent<'a> {
    /// Audio to play to the caller, base64 in the stream's media format.
    Media {
        /// `media.payload`, still base64.
        payload: Cow<'a, str>,
    },
    /// A mark to acknowledge once the audio sent before it has played.
    Mark {
        /// `mark.name`.
        name: Cow<'a, str>,
    },
    /// Drop all queued audio now (barge-in).
    Clear,
    /// Any other `event` (ignored by the core, counted).
    Unknown {
        /// The `event` value.
        event: Cow<'a, str>,
    },
}

/// Why an agent's message could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is not JSON, or a field has the wrong type.
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    /// A message of a known event lacks a field it needs.
    #[error("`{event}` message without `{field}`")]
    MissingField {
        /// The event.
        event: &'static str,
        /// The missing field, as a JSON path.
        field: &'static str,
    },
}

/// The wire shape of an agent's message: every field optional, unknown fields ignored.
#[derive(Deserialize)]
struct AgentWire<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    media: Option<AgentMedia<'a>>,
    #[serde(borrow, default)]
    mark: Option<AgentMark<'a>>,
}

#[derive(Deserialize)]
struct AgentMedia<'a> {
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AgentMark<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

impl<'a> FromAgent<'a> {
    /// Parses one text frame from the agent. The caller enforces the size cap first.
    pub fn parse(text: &'a str) -> Result<Self, ProtocolError> {
        let wire: AgentWire<'a> = serde_json::from_str(text)?;
        match wire.event.as_ref() {
            "media" => {
                let payload =
                    wire.media
                        .and_then(|m| m.payload)
                        .ok_or(ProtocolError::MissingField {
                            event: "media",
                            field: "media.payload",
                        })?;
                Ok(FromAgent::Media { payload })
            }
            "mark" => {
                let name = wire
                    .mark
                    .and_then(|m| m.name)
                    .ok_or(ProtocolError::MissingField {
                        event: "mark",
                        field: "mark.name",
                    })?;
                Ok(FromAgent::Mark { name })
            }
            "clear" => Ok(FromAgent::Clear),
            _ => Ok(FromAgent::Unknown { event: wire.event }),
        }
    }
}

#[cfg(test)]
mod tests;
