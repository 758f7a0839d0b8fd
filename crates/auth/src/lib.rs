//! Weft's authentication building blocks: signed access tokens, passwords and secrets.
//!
//! No I/O here: storage lookups (revocations, API-token hashes) are the caller's job.

pub mod access;
pub mod jws;
pub mod password;
pub mod secret;

pub use access::{AccessClaims, TokenError, TokenIssuer, TokenKind};
pub use jws::{Es256Key, JwsError};
