//! Media files to mono 16-bit PCM: WAV (PCM 8/16/24/32-bit, float, µ-law, A-law), MP3 and FLAC
//! through symphonia, and Ogg Opus through symphonia's Ogg demuxer and the Opus decoder of
//! `opus-rs`. Channels are averaged to mono.
//!
//! Hostile input: the input size and the decoded duration are capped ([`DecodeOptions`]), a
//! panic inside a decoder becomes [`AudioError::Malformed`], and a truncated file yields the
//! audio before the cut.

mod opus;
mod sink;
mod wav_sizes;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CodecParameters, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::{Limit, MetadataOptions};
use symphonia::core::probe::Hint;

use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported};
use sink::Sink;
pub use wav_sizes::fit_streamed_wav_sizes;

/// Default [`DecodeOptions::max_bytes`]: 32 MiB.
pub const DEFAULT_MAX_BYTES: usize = 32 << 20;
/// Default [`DecodeOptions::max_duration`]: 10 minutes.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);
/// Undecodable packets in a row after which a stream is given up.
const MAX_BAD_PACKETS: usize = 64;
/// Largest metadata tag kept while probing (tags are not used).
const MAX_TAG_BYTES: usize = 64 << 10;

/// Limits and the output rate of [`decode_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Longest audio accepted; longer audio is refused, not cut.
    pub max_duration: Duration,
    /// The output rate; `None` keeps the file's rate.
    pub rate: Option<u32>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_duration: DEFAULT_MAX_DURATION,
            rate: None,
        }
    }
}

/// Decodes a whole file at its own rate with the default limits; `hint` is a file extension
/// (`"wav"`, `".mp3"`) or a MIME type (`"audio/ogg"`). The content decides the format; the hint
/// only helps.
pub fn decode(bytes: &[u8], hint: Option<&str>) -> Result<Pcm, AudioError> {
    decode_with(bytes, hint, &DecodeOptions::default())
}

/// Decodes a whole file under `options`.
pub fn decode_with(
    bytes: &[u8],
    hint: Option<&str>,
    options: &DecodeOptions,
) -> Result<Pcm, AudioError> {
    if bytes.len() > options.max_bytes {
        return Err(AudioError::TooLarge {
            size: bytes.len(),
            limit: options.max_bytes,
        });
    }
    if options.rate.is_some_and(|r| !rate_supported(r)) {
        return Err(AudioError::InvalidParameter("output rate out of range"));
    }
    catch_unwind(AssertUnwindSafe(|| decode_file(bytes, hint, options))).unwrap_or_else(|_| {
        Err(AudioError::Malformed(
            "the decoder failed on this input".into(),
        ))
    })
}

fn decode_file(
    bytes: &[u8],
    hint: Option<&str>,
    options: &DecodeOptions,
) -> Result<Pcm, AudioError> {
    let mut owned = bytes.to_vec();
    fit_streamed_wav_sizes(&mut owned);
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(owned)),
        MediaSourceStreamOptions::default(),
    );
    let format_options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let metadata_options = MetadataOptions {
        limit_metadata_bytes: Limit::Maximum(MAX_TAG_BYTES),
        limit_visual_bytes: Limit::Maximum(0),
    };
    let probed = symphonia::default::get_probe()
        .format(&make_hint(hint), source, &format_options, &metadata_options)
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => {
                AudioError::Unsupported(format!("not a known audio format ({what})"))
            }
            other => AudioError::Malformed(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Unsupported("no audio track".into()))?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    check_declared_length(&params, options)?;
    let mut sink = Sink::new(options, params.sample_rate);
    if params.codec == CODEC_TYPE_OPUS {
        let mut stream = opus::OpusStream::new(&params, bytes, track_id)?;
        read_packets(format.as_mut(), track_id, |packet| {
            stream.decode(packet, &mut sink)
        })?;
    } else {
        let mut decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| AudioError::Unsupported(e.to_string()))?;
        let mut interleaved: Option<SampleBuffer<i16>> = None;
        read_packets(format.as_mut(), track_id, |packet| {
            let decoded = match decoder.decode(packet) {
                Ok(d) => d,
                Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_)) => {
                    return Ok(false);
                }
                Err(e) => return Err(AudioError::Malformed(e.to_string())),
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count();
            if channels == 0 {
                return Err(AudioError::Malformed("no channels".into()));
            }
            let buffer = match &mut interleaved {
                Some(b) if b.capacity() >= decoded.capacity() * channels => b,
                slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buffer.copy_interleaved_ref(decoded);
            sink.push_interleaved(spec.rate, buffer.samples(), channels)?;
            Ok(true)
        })?;
    }
    sink.finish()
}

/// Feeds the packets of `track_id` to `decode` (which says whether the packet decoded) until the
/// stream ends, is cut short, or fails too often.
fn read_packets(
    format: &mut dyn FormatReader,
    track_id: u32,
    mut decode: impl FnMut(&Packet) -> Result<bool, AudioError>,
) -> Result<(), AudioError> {
    let mut bad = 0;
    let mut good = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(_) | SymphoniaError::ResetRequired) => break,
            // A damaged tail: keep what decoded before it.
            Err(_) if good > 0 => break,
            Err(e) => return Err(AudioError::Malformed(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        if decode(&packet)? {
            good += 1;
            bad = 0;
        } else {
            bad += 1;
            if bad >= MAX_BAD_PACKETS {
                break;
            }
        }
    }
    if good == 0 && bad > 0 {
        return Err(AudioError::Malformed("no packet could be decoded".into()));
    }
    Ok(())
}

/// Refuses a file whose header already says it is too long.
fn check_declared_length(
    params: &CodecParameters,
    options: &DecodeOptions,
) -> Result<(), AudioError> {
    if let (Some(frames), Some(rate)) = (params.n_frames, params.sample_rate)
        && rate > 0
        && frames as f64 / f64::from(rate) > options.max_duration.as_secs_f64()
    {
        return Err(AudioError::TooLong {
            limit: options.max_duration,
        });
    }
    Ok(())
}

/// A symphonia hint from a file extension, a file name or a MIME type.
fn make_hint(hint: Option<&str>) -> Hint {
    let mut h = Hint::new();
    let Some(text) = hint.map(str::trim).filter(|t| !t.is_empty()) else {
        return h;
    };
    if text.contains('/') {
        let mime = text.split(';').next().unwrap_or(text).trim();
        h.mime_type(&mime.to_ascii_lowercase());
    } else {
        let ext = text.rsplit('.').next().unwrap_or(text);
        h.with_extension(&ext.to_ascii_lowercase());
    }
    h
}

#[cfg(test)]
mod tests;
