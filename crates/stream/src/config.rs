//! The configuration of one stream.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::format::{AgentFormat, CallRate};
use crate::protocol::Track;

/// The default cap on one message from the agent.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The default cap on the agent's audio waiting to be played.
pub const MAX_QUEUE: Duration = Duration::from_secs(10);
/// The default cap on caller audio waiting to be sent to a slow agent.
pub const MAX_BACKLOG: Duration = Duration::from_secs(2);
/// The default dry spell after which resumed playout counts as an underrun.
pub const UNDERRUN_AFTER: Duration = Duration::from_millis(60);
/// The default cap on marks waiting for their audio to play.
pub const MAX_PENDING_MARKS: usize = 256;
/// The default cap on the length of a mark's name.
pub const MAX_MARK_NAME: usize = 1024;

/// What one stream sends in `start`, its formats and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// `streamSid`.
    pub stream_sid: String,
    /// `accountSid` (Weft: the project id).
    pub account_sid: String,
    /// `callSid`.
    pub call_sid: String,
    /// `start.tracks`.
    pub tracks: Vec<Track>,
    /// `start.customParameters`.
    pub custom_parameters: BTreeMap<String, String>,
    /// The agent's audio format.
    pub format: AgentFormat,
    /// The rate of the call side's PCM, both ways.
    pub call_rate: CallRate,
    /// The most agent audio queued for playout; more is dropped and counted.
    pub max_queue: Duration,
    /// The most caller audio waiting in the outgoing queue (the shell not draining it because the
    /// agent does not read); more is dropped and counted.
    pub max_backlog: Duration,
    /// The cap on one agent message, in bytes.
    pub max_message_bytes: usize,
    /// See [`crate::StreamStats::underruns`].
    pub underrun_after: Duration,
    /// The most marks waiting for their audio.
    pub max_pending_marks: usize,
    /// The longest mark name accepted.
    pub max_mark_name: usize,
}

impl StreamConfig {
    /// A configuration with the tracks `["inbound"]` (the caller's audio, the only track Weft
    /// sends, as on Twilio's bidirectional streams), no custom parameters and the default limits.
    pub fn new(
        stream_sid: impl Into<String>,
        account_sid: impl Into<String>,
        call_sid: impl Into<String>,
        format: AgentFormat,
        call_rate: CallRate,
    ) -> Self {
        Self {
            stream_sid: stream_sid.into(),
            account_sid: account_sid.into(),
            call_sid: call_sid.into(),
            tracks: vec![Track::Inbound],
            custom_parameters: BTreeMap::new(),
            format,
            call_rate,
            max_queue: MAX_QUEUE,
            max_backlog: MAX_BACKLOG,
            max_message_bytes: MAX_MESSAGE_BYTES,
            underrun_after: UNDERRUN_AFTER,
            max_pending_marks: MAX_PENDING_MARKS,
            max_mark_name: MAX_MARK_NAME,
        }
    }
}
