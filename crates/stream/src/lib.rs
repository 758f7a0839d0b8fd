//! Weft media streams: the sans-IO core of the Twilio-compatible media WebSocket that bridges a
//! call's audio to the user's own AI agent server (issue 14; `swml.md` B.3 and B.5). Weft is the
//! WebSocket client.
//!
//! - [`protocol`]: the JSON messages both ways, with the wire's field names.
//! - [`mod@format`]: the agent's audio format (µ-law 8 kHz or little-endian L16 8/16/24 kHz) and the
//!   conversion between the call's 20 ms PCM frames and payload bytes.
//! - [`mod@core`]: [`StreamCore`], one per call: the outgoing message queue, the playout queue of the
//!   agent's audio with its marks, `clear`, and counters. It does no I/O and reads no clock: time
//!   comes only from the `now` arguments, so a shell drives it with a 20 ms tick and events.

pub mod config;
pub mod core;
pub mod error;
pub mod format;
pub mod protocol;
pub mod stats;

pub use crate::core::{Frame, StreamCore};
pub use config::StreamConfig;
pub use error::{ConfigError, StreamError};
pub use format::{AgentFormat, CallRate, FRAME};
pub use protocol::{FromAgent, ToAgent, Track};
pub use stats::StreamStats;
