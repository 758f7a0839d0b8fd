//! Weft's SIP front-end.
//!
//! The call logic is a sans-IO core: no sockets, no async, no clocks or randomness of its own
//! (callers pass the time and any random material in). This crate currently holds its pure leaf
//! modules:
//!
//! - [`sdp`]: parsing, negotiating and building the SDP of a SIP call's audio leg
//!   (RFC 4566 / RFC 3264, with RFC 4568 SDES crypto lines).
//! - [`digest`]: server-side HTTP Digest authentication for SIP requests
//!   (RFC 3261 §22, RFC 2617, RFC 7616 / RFC 8760).

pub mod digest;
pub mod sdp;
