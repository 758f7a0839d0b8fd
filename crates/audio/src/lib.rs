//! Weft audio: the building blocks of a server-side media endpoint that plays files and tones into
//! calls and records them.
//!
//! - [`mod@decode`]: WAV, MP3, FLAC and Ogg Opus files to mono 16-bit PCM, with size and duration caps.
//! - [`mod@resample`]: sample-rate conversion, whole buffers or streamed frame by frame.
//! - [`mod@tone`]: silence, sine tones and volume; [`mod@ring`]: ringback tones by country.
//! - [`wav`]: a streaming WAV writer (16-bit PCM, G.711 µ-law and A-law) for recordings.
//! - [`ogg_opus`]: a streaming Ogg Opus writer that stores Opus packets as received.
//! - [`dtmf`]: in-band DTMF detection.
//! - [`tts`]: text-to-speech through an external command such as `espeak-ng`.
//! - Smaller pieces: [`g711`] companding, [`ogg`] pages, [`opus_packet`] durations.
//!
//! The frame paths (the generators' `fill`, [`Resampler::process`], the writers' appends,
//! [`DtmfDetector::process`], [`apply_volume`]) do not allocate once warmed up.

pub mod decode;
pub mod dtmf;
pub mod error;
pub mod g711;
mod goertzel;
pub mod ogg;
pub mod ogg_opus;
pub mod opus_packet;
pub mod pcm;
pub mod resample;
pub mod ring;
pub mod tone;
pub mod tts;
pub mod wav;

pub use decode::{DecodeOptions, decode, decode_with};
pub use dtmf::DtmfDetector;
pub use error::AudioError;
pub use ogg_opus::{OggOpusConfig, OggOpusWriter};
pub use pcm::{MAX_RATE, MIN_RATE, Pcm};
pub use resample::{Resampler, resample};
pub use ring::{RingGenerator, Ringback, ring};
pub use tone::{ToneGenerator, apply_volume, silence, tone};
pub use tts::{TtsCommand, TtsError};
pub use wav::{WavEncoding, WavWriter};
