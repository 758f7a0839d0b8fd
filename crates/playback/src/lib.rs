//! What a SWML `play` URL is, as PCM at the rate a call needs:
//! - `silence:<seconds>`, `ring:<seconds>[:<country>]`: generated ([`Playable::parse`]);
//! - `say:<text>`: the `[swml] tts_command`'s speech, when one is configured;
//! - `http(s)://…`: a WAV, MP3, FLAC or Ogg Opus file fetched through the one guarded fetcher
//!   (`weft-fetch`) and decoded, kept in a cache bounded in bytes ([`cache::PcmCache`]).
//!
//! [`Loader::load`] is the one entry; errors say which URL and why, for the call's log.

pub mod cache;
mod loader;
mod playable;

pub use cache::PcmCache;
pub use loader::{LoadError, Loader, LoaderConfig, Speech};
pub use playable::{Playable, PlayableError};
