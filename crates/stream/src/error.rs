//! The crate's errors.

use crate::format::PayloadError;
use crate::protocol::ProtocolError;

/// A configuration [`crate::StreamCore::new`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A sample rate the protocol or the resampler does not support.
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
}

/// Why an agent's message was rejected. The stream itself stays usable; the shell decides whether
/// repeated errors end it.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The frame is longer than the configured cap.
    #[error("message of {len} bytes exceeds the {max}-byte cap")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not a valid message.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// `media.payload` is not valid base64.
    #[error("bad base64 payload: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The decoded payload does not fit the media format.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// More marks are waiting than the cap allows; this one was ignored.
    #[error("more than {0} marks pending")]
    TooManyMarks(usize),
    /// A mark name longer than the cap; the mark was ignored.
    #[error("mark name of {len} bytes exceeds the {max}-byte cap")]
    MarkNameTooLong {
        /// The name's length.
        len: usize,
        /// The cap.
        max: usize,
    },
}
