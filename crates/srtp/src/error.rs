//! Errors of packet protection and of master-key handling.

/// Why a packet could not be protected or unprotected.
///
/// After an error from an `unprotect_*` call the buffer's contents are unspecified (a failed
/// authentication may leave it partly decrypted); the session's state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The packet is shorter than its header, CSRC list, header extension or trailer claims.
    #[error("packet truncated")]
    Truncated,
    /// The version field is not 2.
    #[error("not an RTP/RTCP version 2 packet")]
    BadVersion,
    /// The payload is too long for one AES counter-mode keystream (2^16 blocks).
    #[error("packet too large to protect")]
    TooLarge,
    /// The authentication tag did not verify.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    #[error("replayed packet")]
    Replayed,
    /// The packet index lies behind the 64-packet replay window, or before the stream began.
    #[error("packet too old for the replay window")]
    TooOld,
    /// The session already tracks its maximum number of SSRCs.
    #[error("too many SSRCs in one session")]
    TooManySsrcs,
    /// The packet index space of this master key is used up (RFC 3711 §9.2): re-key.
    #[error("packet index exhausted; the master key must be renewed")]
    KeyExhausted,
    /// The output buffer of a seal is shorter than header, payload and tag together.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// The header given to a seal is not exactly one RTP header: its CSRC count or header
    /// extension length claims another length.
    #[error("header length does not match its CSRC count and extension")]
    HeaderLength,
    /// The cryptographic library reported an internal failure.
    #[error("cryptographic library failure")]
    Crypto,
}

/// Why a master key could not be built or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The SDES key parameters do not start with the `inline:` method.
    #[error("SDES key parameters must use the \"inline:\" key method")]
    NotInline,
    /// The key||salt text is not valid base64.
    #[error("SDES key||salt is not valid base64")]
    InvalidBase64,
    /// The decoded key||salt has the wrong length for the profile.
    #[error("SDES key||salt must be {expected} bytes for this profile, got {actual}")]
    InlineLength {
        /// Master key plus master salt length of the profile.
        expected: usize,
        /// Decoded length.
        actual: usize,
    },
    /// The master key has the wrong length for the profile.
    #[error("master key must be {expected} bytes, got {actual}")]
    KeyLength {
        /// The profile's master key length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The master salt has the wrong length for the profile.
    #[error("master salt must be {expected} bytes, got {actual}")]
    SaltLength {
        /// The profile's master salt length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The key parameters carry an MKI (`|<value>:<length>`), which this implementation does not use.
    #[error("SDES master key identifiers (MKI) are not supported")]
    MkiNotSupported,
    /// The lifetime field is neither decimal digits nor `2^` followed by digits, or appears twice.
    #[error("SDES key lifetime is malformed")]
    InvalidLifetime,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
}
