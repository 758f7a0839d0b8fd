//! The error type of this crate.

use std::time::Duration;

/// Why audio could not be decoded, generated or written.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input is larger than the configured byte limit.
    #[error("audio input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The input's size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The audio lasts longer than the configured duration limit.
    #[error("audio longer than the limit of {} s", limit.as_secs_f64())]
    TooLong {
        /// The configured limit.
        limit: Duration,
    },
    /// A format, codec or layout this crate does not handle.
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The input is not valid audio of its format.
    #[error("malformed audio: {0}")]
    Malformed(String),
    /// A caller-supplied parameter is out of range (a zero sample rate, say).
    #[error("invalid audio parameter: {0}")]
    InvalidParameter(&'static str),
    /// Writing a recording failed.
    #[error("audio I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Text-to-speech failed: a bad command line, unusable text, or the command failed.
    #[error("text-to-speech: {0}")]
    Tts(#[from] crate::tts::TtsError),
}
