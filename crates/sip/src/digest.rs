//! Server-side HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760).
//!
//! A [`Challenger`] issues `WWW-Authenticate` / `Proxy-Authenticate` values with stateless,
//! HMAC-protected nonces and verifies the [`Credentials`] parsed from `Authorization` /
//! `Proxy-Authorization` ([`parse_credentials`]) against a user's stored [`Ha1Set`]. Passwords
//! are never stored: only HA1 = H(username ":" realm ":" password) per algorithm.
//!
//! Supported: `MD5` and `SHA-256`, with `qop=auth` or without qop (RFC 2069 compatibility).
//! Refused: the `-sess` variants, `SHA-512-256`, `qop=auth-int` and `userhash`.

mod algorithm;
mod challenger;
mod credentials;
mod hmac;

pub use algorithm::{Algorithm, Ha1Set};
pub use challenger::{Challenger, DEFAULT_MAX_NONCE_AGE_SECS, Verdict};
pub use credentials::{Credentials, DigestError, parse_credentials};
