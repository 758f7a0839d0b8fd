//! The agent's audio format, and the conversion between the call's 20 ms PCM frames and the
//! agent's payload bytes.
//!
//! PCM on Weft's side is mono signed 16-bit (`i16`) at the call's rate ([`CallRate`]: 8 kHz or
//! 48 kHz), one 20 ms frame at a time. On the agent's side:
//!
//! - `audio/x-mulaw`: G.711 µ-law at 8 kHz, one byte per sample (Twilio's only format).
//! - `audio/x-L16`: 16-bit signed linear PCM at 8, 16 or 24 kHz, **little-endian**. The
//!   spelling is SignalWire's (`swml.md` B.3). Twilio's protocol has no L16, and RFC 3551's
//!   RTP L16 is big-endian, but the JSON media-stream protocols that carry `audio/x-l16` (Plivo,
//!   Exotel, Vobiz) and the agent frameworks that consume them (Pipecat's serializers, which
//!   hand payload bytes to NumPy as native little-endian `int16`) all use little-endian.
//!
//! Resampling uses `weft_audio`'s streaming [`Resampler`], one per direction, so consecutive
//! frames join without clicks.

use std::collections::VecDeque;
use std::time::Duration;

use weft_audio::Resampler;
use weft_audio::g711::{self, Law};

/// The length of one frame, both ways.
pub const FRAME: Duration = Duration::from_millis(20);
/// Frames per second.
const FRAMES_PER_SECOND: u32 = 50;

/// The call side's PCM rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallRate {
    /// 8 kHz (G.711 calls).
    Hz8000,
    /// 48 kHz (Opus calls).
    Hz48000,
}

impl CallRate {
    /// The rate in Hz.
    pub fn hz(self) -> u32 {
        match self {
            CallRate::Hz8000 => 8_000,
            CallRate::Hz48000 => 48_000,
        }
    }

    /// Samples in one 20 ms frame.
    pub fn frame_samples(self) -> usize {
        (self.hz() / FRAMES_PER_SECOND) as usize
    }
}

/// The agent's audio format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentFormat {
    /// `audio/x-mulaw`, 8 kHz.
    Mulaw8k,
    /// `audio/x-L16`, little-endian, at `rate` Hz (8000, 16000 or 24000; see
    /// [`AgentFormat::validate`]).
    L16 {
        /// The sample rate.
        rate: u32,
    },
}

/// The L16 sample rates the protocol allows.
pub const L16_RATES: [u32; 3] = [8_000, 16_000, 24_000];

/// Why a payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// An L16 payload with an odd number of bytes.
    #[error("L16 payload of {0} bytes is not whole 16-bit samples")]
    OddLength(usize),
}

impl AgentFormat {
    /// Checks the L16 rate; µ-law is always valid.
    pub fn validate(self) -> Result<Self, crate::ConfigError> {
        match self {
            AgentFormat::L16 { rate } if !L16_RATES.contains(&rate) => {
                Err(crate::ConfigError::UnsupportedRate(rate))
            }
            _ => Ok(self),
        }
    }

    /// `mediaFormat.encoding`.
    pub fn encoding(self) -> &'static str {
        match self {
            AgentFormat::Mulaw8k => "audio/x-mulaw",
            AgentFormat::L16 { .. } => "audio/x-L16",
        }
    }

    /// `mediaFormat.sampleRate`.
    pub fn rate(self) -> u32 {
        match self {
            AgentFormat::Mulaw8k => g711::RATE,
            AgentFormat::L16 { rate } => rate,
        }
    }

    /// Samples in 20 ms.
    pub fn frame_samples(self) -> usize {
        (self.rate() / FRAMES_PER_SECOND) as usize
    }

    /// Payload bytes per sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            AgentFormat::Mulaw8k => 1,
            AgentFormat::L16 { .. } => 2,
        }
    }

    /// Appends `pcm` (at [`AgentFormat::rate`]) to `out` as payload bytes.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            AgentFormat::Mulaw8k => out.extend(pcm.iter().map(|&s| g711::linear_to_ulaw(s))),
            AgentFormat::L16 { .. } => out.extend(pcm.iter().flat_map(|s| s.to_le_bytes())),
        }
    }

    /// Appends the samples of payload `bytes` to `out`, at most `limit` of them; returns how many
    /// samples the payload held in all.
    pub fn decode(
        self,
        bytes: &[u8],
        out: &mut VecDeque<i16>,
        limit: usize,
    ) -> Result<usize, PayloadError> {
        match self {
            AgentFormat::Mulaw8k => {
                out.extend(
                    bytes
                        .iter()
                        .take(limit)
                        .map(|&b| g711::to_linear(Law::Mu, b)),
                );
                Ok(bytes.len())
            }
            AgentFormat::L16 { .. } => {
                if !bytes.len().is_multiple_of(2) {
                    return Err(PayloadError::OddLength(bytes.len()));
                }
                let samples = bytes.chunks_exact(2).take(limit);
                out.extend(samples.map(|b| i16::from_le_bytes([b[0], b[1]])));
                Ok(bytes.len() / 2)
            }
        }
    }
}

/// A streaming rate converter that hands out fixed-size frames: PCM goes in at one rate in any
/// amounts, frames of `frame` samples come out at the other.
///
/// On the first input the output is primed with leading silence up to one whole frame, so each
/// later 20 ms input completes a 20 ms output at once: the added delay is the filter's own
/// (about 3 ms), not a frame. Equal rates pass samples straight through.
#[derive(Debug)]
pub struct Rechunker {
    from: u32,
    to: u32,
    resampler: Option<Resampler>,
    frame: usize,
    scratch: Vec<i16>,
    pending: VecDeque<i16>,
    primed: bool,
}

impl Rechunker {
    /// Converts `from` Hz into frames of `frame` samples at `to` Hz.
    pub fn new(from: u32, to: u32, frame: usize) -> Result<Self, crate::ConfigError> {
        Ok(Self {
            from,
            to,
            resampler: make_resampler(from, to)?,
            frame,
            scratch: Vec::new(),
            pending: VecDeque::with_capacity(2 * frame),
            primed: false,
        })
    }

    /// Takes more input.
    pub fn push(&mut self, input: &[i16]) {
        match &mut self.resampler {
            Some(r) => {
                self.scratch.resize(r.output_len(input.len()), 0);
                let n = r.process(input, &mut self.scratch);
                self.pending.extend(&self.scratch[..n]);
            }
            None => self.pending.extend(input),
        }
        if !self.primed {
            self.primed = true;
            let pad = self.frame.saturating_sub(self.pending.len());
            for _ in 0..pad {
                self.pending.push_front(0);
            }
        }
    }

    /// Moves the next whole frame into `out` (resized to a frame); false while there is none.
    pub fn pop(&mut self, out: &mut Vec<i16>) -> bool {
        if self.pending.len() < self.frame {
            return false;
        }
        out.clear();
        out.extend(self.pending.drain(..self.frame));
        true
    }

    /// Forgets all input: the filter's history and any output not yet taken.
    pub fn reset(&mut self) {
        // The rates were accepted by `new`, so this cannot fail; keep the old filter if it did.
        if let Ok(r) = make_resampler(self.from, self.to) {
            self.resampler = r;
        }
        self.pending.clear();
        self.primed = false;
    }
}

fn make_resampler(from: u32, to: u32) -> Result<Option<Resampler>, crate::ConfigError> {
    if from == to {
        return Ok(None);
    }
    Resampler::new(from, to)
        .map(Some)
        .map_err(|_| crate::ConfigError::UnsupportedRate(from.max(to)))
}

#[cfg(test)]
mod tests;
