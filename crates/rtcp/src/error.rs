//! Why a compound packet could not be parsed, or a packet not built.

/// Why parsing stopped at a packet of a compound RTCP packet.
///
/// Everything before the malformed packet has already been yielded; nothing after it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer than 4 bytes remain, or the length field reaches past the end of the buffer.
    #[error("RTCP packet truncated")]
    Truncated,
    /// The version field is not 2.
    #[error("not an RTCP version 2 packet")]
    BadVersion,
    /// The padding bit is set but the padding count is zero or longer than the packet body.
    #[error("RTCP padding count out of range")]
    BadPadding,
    /// The body is shorter than its type requires: the fixed part, or the reception report
    /// blocks its report count announces.
    #[error("RTCP packet too short for its type or report count")]
    TooShort,
    /// The feedback control information of a NACK or FIR is empty or not a whole number of
    /// entries.
    #[error("feedback control information empty or truncated")]
    BadFci,
}

/// Why a packet could not be built. Nothing is appended when building fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// An SDES item holds at most 255 bytes (RFC 3550 §6.5).
    #[error("CNAME longer than 255 bytes")]
    CnameTooLong,
    /// A generic NACK carries at least one lost packet (RFC 4585 §6.2.1).
    #[error("NACK without lost packets")]
    EmptyNack,
    /// The lost packets need more NACK entries than the 16-bit length field can count.
    #[error("too many NACK entries for one RTCP packet")]
    TooManyNackEntries,
}
