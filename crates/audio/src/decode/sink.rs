//! Where decoded audio goes: downmixed to mono, resampled to the requested rate, and counted
//! against the duration cap.

use crate::decode::DecodeOptions;
use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported};
use crate::resample::{Resampler, finish_resampled, push_resampled};

/// Collects a decoded stream's mono samples.
pub(super) struct Sink {
    options: DecodeOptions,
    /// The rate the container declares, reported when no sample is decoded.
    declared_rate: Option<u32>,
    /// The stream's rate, from its first samples.
    rate: Option<u32>,
    /// Samples taken at the stream's rate.
    taken: u64,
    /// Most samples taken at the stream's rate.
    max_taken: u64,
    resampler: Option<Resampler>,
    mono: Vec<i16>,
    out: Vec<i16>,
}

impl Sink {
    pub(super) fn new(options: &DecodeOptions, declared_rate: Option<u32>) -> Self {
        Self {
            options: *options,
            declared_rate,
            rate: None,
            taken: 0,
            max_taken: 0,
            resampler: None,
            mono: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Takes interleaved samples of `channels` channels at `rate` Hz.
    pub(super) fn push_interleaved(
        &mut self,
        rate: u32,
        samples: &[i16],
        channels: usize,
    ) -> Result<(), AudioError> {
        self.start(rate)?;
        let mut mono = std::mem::take(&mut self.mono);
        mono.clear();
        downmix(samples, channels, &mut mono);
        let result = self.take(&mono);
        self.mono = mono;
        result
    }

    /// Takes mono samples at `rate` Hz.
    pub(super) fn push_mono(&mut self, rate: u32, samples: &[i16]) -> Result<(), AudioError> {
        self.start(rate)?;
        self.take(samples)
    }

    /// The decoded audio.
    pub(super) fn finish(mut self) -> Result<Pcm, AudioError> {
        let Some(rate) = self.rate.or(self.declared_rate) else {
            return Err(AudioError::Malformed("no audio".into()));
        };
        if let Some(r) = &mut self.resampler {
            finish_resampled(r, &mut self.out);
        }
        Ok(Pcm {
            rate: self.options.rate.unwrap_or(rate),
            samples: self.out,
        })
    }

    fn start(&mut self, rate: u32) -> Result<(), AudioError> {
        match self.rate {
            Some(r) if r == rate => Ok(()),
            Some(_) => Err(AudioError::Unsupported(
                "the sample rate changes within the stream".into(),
            )),
            None => {
                if !rate_supported(rate) {
                    return Err(AudioError::Unsupported(format!("sample rate {rate} Hz")));
                }
                self.rate = Some(rate);
                self.max_taken =
                    (self.options.max_duration.as_secs_f64() * f64::from(rate)).ceil() as u64;
                if let Some(to) = self.options.rate.filter(|&to| to != rate) {
                    self.resampler = Some(Resampler::new(rate, to)?);
                }
                Ok(())
            }
        }
    }

    fn take(&mut self, mono: &[i16]) -> Result<(), AudioError> {
        self.taken += mono.len() as u64;
        if self.taken > self.max_taken {
            return Err(AudioError::TooLong {
                limit: self.options.max_duration,
            });
        }
        match &mut self.resampler {
            Some(r) => push_resampled(r, mono, &mut self.out),
            None => self.out.extend_from_slice(mono),
        }
        Ok(())
    }
}

/// Appends the average of each frame of `channels` interleaved samples to `mono`.
pub(super) fn downmix(samples: &[i16], channels: usize, mono: &mut Vec<i16>) {
    if channels <= 1 {
        mono.extend_from_slice(samples);
        return;
    }
    let n = channels as i32;
    mono.extend(samples.chunks_exact(channels).map(|frame| {
        let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
        (sum as f32 / n as f32).round() as i16
    }));
}
