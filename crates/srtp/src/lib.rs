//! SRTP and SRTCP for Weft's plain-RTP media legs, keyed by SDES.
//!
//! Written from RFC 3711 (SRTP, AES-CM and HMAC-SHA1, key derivation rate 0), RFC 4568
//! (SDES `a=crypto` key parameters and suite names), RFC 7714 (AES-GCM, 128- and 256-bit) and
//! RFC 6188 (the AES-256 key derivation `AEAD_AES_256_GCM` uses). The primitives come from
//! aws-lc-rs. Keys come from SDES or, for WebRTC peers, from a DTLS-SRTP export.
//!
//! An [`SrtpSession`] is one direction under one [`MasterKey`]: protect what you send with a
//! session keyed by your offered key, unprotect what you receive with one keyed by the peer's.
//! [`SrtpSession::seal_rtp`] protects a packet given as header and payload into a buffer the
//! caller owns, without copying the payload first.
//!
//! ```
//! use weft_srtp::{MasterKey, Profile, SrtpSession};
//!
//! let profile = Profile::from_sdes_name("AES_CM_128_HMAC_SHA1_80").unwrap();
//! let ours = MasterKey::random(profile)?;
//! let offered = format!("a=crypto:1 {} {}", profile.sdes_name(), ours.to_sdes_inline());
//!
//! // The peer parses the key parameters of our offer...
//! let inline = offered.rsplit(' ').next().unwrap();
//! let theirs = MasterKey::from_sdes_inline(profile, inline)?;
//!
//! let mut sender = SrtpSession::new(&ours)?;
//! let mut receiver = SrtpSession::new(&theirs)?;
//! let plain = vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 7, b'h', b'i'];
//! let mut packet = plain.clone();
//! sender.protect_rtp(&mut packet)?;
//! let len = receiver.unprotect_rtp(&mut packet)?;
//! assert_eq!(packet[..len], plain);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cipher;
mod error;
mod kdf;
mod key;
mod profile;
mod replay;
mod rtp;
mod session;
mod srtcp;
mod srtp;
mod streams;

pub use error::{KeyError, SrtpError};
pub use key::MasterKey;
pub use profile::Profile;
pub use session::SrtpSession;
