//! Building blocks for media egress that Weft seals itself instead of str0m.
//!
//! str0m keeps ICE, DTLS, SDP and what it receives; Weft needs the SRTP keys the DTLS
//! handshake exported to seal forwarded RTP itself, with [`weft_srtp::SrtpSession::seal_rtp`],
//! into buffers it owns.
//!
//! - [`build_with_key_capture`] builds an `Rtc` (e.g. from [`crate::hotpath::server_config`])
//!   whose DTLS instance hands every output to str0m unchanged and keeps a copy of the keying
//!   material, in the returned [`EgressKeys`]. Every server-side `Rtc` uses the same
//!   provider ([`capturing_provider`]) for its one shared DTLS configuration.
//! - Once the `Rtc` reports `Event::Connected`, [`EgressKeys::keys`] gives [`DtlsSrtpKeys`]:
//!   the master key this side sends with and the one that opens what the peer sends (SRTP and
//!   SRTCP), for every profile str0m negotiates ([`srtp_profile`]). Between str0m peers that
//!   is `AEAD_AES_256_GCM`, which the DTLS server prefers.
//!
//! Sealing on an SSRC is safe only if str0m never sends RTP on it itself: AES-GCM's nonce is
//! (SSRC, rollover counter, sequence number), and a repeat breaks confidentiality.

mod capture;
mod keys;

pub use capture::{build_with_key_capture, capturing_provider};
pub use keys::{DtlsSrtpKeys, EgressKeys, srtp_profile};
