//! Ogg Opus packets (RFC 7845) decoded with `opus-rs`, mono or stereo (channel mapping family 0,
//! or family 1 with one or two channels). The pre-skip is dropped from the start, and the
//! granule position of the stream's last page ends it (RFC 7845 §4.4-4.5).

use std::panic::{AssertUnwindSafe, catch_unwind};

use opus_rs::OpusDecoder;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::formats::Packet;

use super::sink::{Sink, downmix};
use crate::error::AudioError;
use crate::ogg::{NO_GRANULE, pages};
use crate::pcm::to_i16;

/// Opus decodes at 48 kHz here (RFC 7845 granule positions are at 48 kHz).
const RATE: u32 = 48_000;
/// Longest Opus packet: 120 ms.
const MAX_FRAME: usize = 5_760;

/// The decoder of one Ogg Opus stream.
pub(super) struct OpusStream {
    decoder: Box<OpusDecoder>,
    channels: usize,
    /// Decoded samples still to drop at the start (the pre-skip).
    skip: usize,
    /// Samples still to give out, when the last page says how many there are.
    left: Option<u64>,
    pcm: Vec<f32>,
    samples: Vec<i16>,
    mono: Vec<i16>,
}

impl OpusStream {
    /// A decoder for the stream whose identification header (OpusHead) is in `params`; `file` is
    /// the whole Ogg file and `serial` the stream's serial number (its track id).
    pub(super) fn new(
        params: &CodecParameters,
        file: &[u8],
        serial: u32,
    ) -> Result<Self, AudioError> {
        let head = params
            .extra_data
            .as_deref()
            .ok_or_else(|| AudioError::Malformed("no OpusHead".into()))?;
        let header = OpusHead::parse(head)?;
        let last_granule = pages(file)
            .filter(|p| p.serial == serial && p.granule != NO_GRANULE)
            .last()
            .map(|p| p.granule);
        let left = last_granule.map(|g| g.saturating_sub(header.pre_skip as u64));
        let decoder = OpusDecoder::new(RATE as i32, header.channels)
            .map_err(|e| AudioError::Unsupported(format!("Opus decoder: {e}")))?;
        Ok(Self {
            decoder: Box::new(decoder),
            channels: header.channels,
            skip: header.pre_skip,
            left,
            pcm: vec![0.0; MAX_FRAME * header.channels],
            samples: Vec::with_capacity(MAX_FRAME * header.channels),
            mono: Vec::with_capacity(MAX_FRAME),
        })
    }

    /// Decodes one packet into `sink`; `false` when the packet is undecodable.
    pub(super) fn decode(&mut self, packet: &Packet, sink: &mut Sink) -> Result<bool, AudioError> {
        let data = packet.buf();
        if data.is_empty() {
            return Ok(false);
        }
        let (decoder, pcm) = (&mut self.decoder, &mut self.pcm);
        let frames = match catch_unwind(AssertUnwindSafe(|| decoder.decode(data, MAX_FRAME, pcm))) {
            Ok(Ok(n)) => n.min(MAX_FRAME),
            Ok(Err(_)) => return Ok(false),
            Err(_) => return Err(AudioError::Malformed("undecodable Opus packet".into())),
        };
        let start = self.skip.min(frames);
        self.skip -= start;
        let mut end = frames;
        if let Some(left) = &mut self.left {
            end = start + (*left).min((frames - start) as u64) as usize;
            *left -= (end - start) as u64;
        }
        let kept = &self.pcm[start * self.channels..end * self.channels];
        self.samples.clear();
        self.samples.extend(kept.iter().map(|&x| to_i16(x)));
        self.mono.clear();
        downmix(&self.samples, self.channels, &mut self.mono);
        sink.push_mono(RATE, &self.mono)?;
        Ok(true)
    }
}

/// The fields of an Opus identification header this decoder needs.
struct OpusHead {
    channels: usize,
    pre_skip: usize,
}

impl OpusHead {
    /// Parses an OpusHead packet (RFC 7845 §5.1).
    fn parse(head: &[u8]) -> Result<Self, AudioError> {
        if head.len() < 19 || &head[..8] != b"OpusHead" {
            return Err(AudioError::Malformed("bad OpusHead".into()));
        }
        let channels = usize::from(head[9]);
        let pre_skip = usize::from(u16::from_le_bytes([head[10], head[11]]));
        let family = head[18];
        if !(1..=2).contains(&channels) || family > 1 {
            return Err(AudioError::Unsupported(format!(
                "Opus with {channels} channels in mapping family {family}"
            )));
        }
        if family == 1 {
            // Family 1 with one or two channels still carries one stream; any coupling is inside
            // the packets, as in family 0.
            let streams = head.get(19).copied().unwrap_or(0);
            if streams != 1 {
                return Err(AudioError::Unsupported("multistream Opus".into()));
            }
        }
        Ok(Self { channels, pre_skip })
    }
}
