//! Mono 16-bit PCM at a known sample rate.

use std::time::Duration;

/// Lowest sample rate accepted anywhere in this crate.
pub const MIN_RATE: u32 = 1_000;
/// Highest sample rate accepted anywhere in this crate.
pub const MAX_RATE: u32 = 192_000;

/// Mono signed 16-bit samples at `rate` Hz.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    /// Samples per second.
    pub rate: u32,
    /// The samples, in order.
    pub samples: Vec<i16>,
}

impl Pcm {
    /// How long the samples last.
    pub fn duration(&self) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.rate))
    }
}

/// Whether `rate` is within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn rate_supported(rate: u32) -> bool {
    (MIN_RATE..=MAX_RATE).contains(&rate)
}

/// The number of samples `duration` lasts at `rate` Hz, rounded to the nearest sample.
pub fn samples_for(duration: Duration, rate: u32) -> usize {
    (duration.as_secs_f64() * f64::from(rate)).round() as usize
}

/// `x` (full scale ±1.0) as a 16-bit sample, rounded and clamped.
pub(crate) fn to_i16(x: f32) -> i16 {
    (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}
