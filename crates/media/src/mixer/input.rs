//! One member's audio into the mixer: a small jitter buffer and the decoder to 48 kHz PCM.

use std::collections::VecDeque;
use std::sync::Arc;

use opus_rs::OpusDecoder;

use super::{FRAME, FRAME_8K, MixError, SAMPLE_RATE};
use crate::g711::{self, Law};
use crate::options::RtpCodec;
use crate::resample::{FACTOR, Upsampler};

/// Packets buffered per input before the oldest is dropped.
const MAX_QUEUE: usize = 5;
/// Packets an input must have queued before it is mixed (a 20 ms jitter buffer).
const PRIME: usize = 2;

/// How an input's packets become 48 kHz PCM.
enum Decoder {
    Opus(Box<OpusDecoder>),
    G711(Law, Upsampler),
}

/// One member's queued packets and its decoder.
pub(super) struct Input {
    /// The codec its packets are in.
    pub(super) codec: RtpCodec,
    decoder: Decoder,
    queue: VecDeque<(Arc<[u8]>, u8)>,
    /// Enough packets are queued to absorb arrival jitter; cleared when the queue runs dry.
    primed: bool,
}

impl Input {
    /// An empty input of `codec`; `None` when its decoder cannot be made.
    pub(super) fn new(codec: RtpCodec) -> Option<Self> {
        let decoder = match codec.law() {
            Some(law) => Decoder::G711(law, Upsampler::default()),
            None => Decoder::Opus(Box::new(OpusDecoder::new(SAMPLE_RATE as i32, 1).ok()?)),
        };
        Some(Self {
            codec,
            decoder,
            queue: VecDeque::with_capacity(MAX_QUEUE),
            primed: false,
        })
    }

    /// Queues one packet with its level, dropping the oldest when the queue is full.
    pub(super) fn queue(&mut self, payload: Arc<[u8]>, level: u8) {
        if self.queue.len() == MAX_QUEUE {
            self.queue.pop_front();
        }
        self.queue.push_back((payload, level));
        self.primed |= self.queue.len() >= PRIME;
    }

    /// The next packet to mix, once enough are queued.
    pub(super) fn pop(&mut self) -> Option<(Arc<[u8]>, u8)> {
        if !self.primed {
            return None;
        }
        let head = self.queue.pop_front();
        self.primed = !self.queue.is_empty();
        head
    }

    /// Decodes one packet into `out` (one 48 kHz frame); `pcm8` is scratch. Returns the samples
    /// written.
    pub(super) fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [f32],
        pcm8: &mut [f32],
    ) -> Result<usize, MixError> {
        match &mut self.decoder {
            Decoder::Opus(d) => d.decode(payload, FRAME, out).map_err(MixError),
            Decoder::G711(law, up) => {
                let n = payload.len().min(FRAME_8K);
                g711::decode(*law, &payload[..n], &mut pcm8[..n]);
                up.process(&pcm8[..n], &mut out[..n * FACTOR]);
                Ok(n * FACTOR)
            }
        }
    }
}
