//! Generated audio: silence, sine tones and sums of them, and volume changes. The generators
//! write into the caller's buffer, frame by frame, with phase kept across frames.

use std::f64::consts::TAU;
use std::time::Duration;

use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported, samples_for};

/// Lowest SWML `volume` in dB.
pub const MIN_VOLUME_DB: f64 = -40.0;
/// Highest SWML `volume` in dB.
pub const MAX_VOLUME_DB: f64 = 40.0;
/// Most sine components one [`ToneGenerator`] sums.
pub const MAX_COMPONENTS: usize = 4;
/// Longest audio the whole-buffer functions ([`silence`], [`tone`], [`crate::ring()`]) make;
/// longer stretches are for the frame-by-frame generators.
pub const MAX_GENERATED: Duration = Duration::from_secs(600);

/// The sample count of `duration` at `rate`, if both are acceptable for a whole buffer.
pub(crate) fn generated_len(duration: Duration, rate: u32) -> Result<usize, AudioError> {
    if !rate_supported(rate) {
        return Err(AudioError::InvalidParameter("sample rate out of range"));
    }
    if duration > MAX_GENERATED {
        return Err(AudioError::TooLong {
            limit: MAX_GENERATED,
        });
    }
    Ok(samples_for(duration, rate))
}

/// The peak amplitude (full scale 32767) of a sine at `dbfs` dB relative to full scale.
pub fn dbfs_to_amplitude(dbfs: f64) -> f64 {
    32_767.0 * 10f64.powf(dbfs / 20.0)
}

/// A sum of up to [`MAX_COMPONENTS`] sines, continuous across calls to [`ToneGenerator::fill`].
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    /// Per component: phase increment (radians per sample), amplitude, phase.
    components: [(f64, f64, f64); MAX_COMPONENTS],
    len: usize,
}

impl ToneGenerator {
    /// A generator of `components` (frequency in Hz, peak amplitude with full scale 32767) at
    /// `rate` Hz. Components past [`MAX_COMPONENTS`] and at or above the Nyquist frequency
    /// are left out.
    pub fn new(components: &[(f64, f64)], rate: u32) -> Result<Self, AudioError> {
        if !rate_supported(rate) {
            return Err(AudioError::InvalidParameter("sample rate out of range"));
        }
        let nyquist = f64::from(rate) / 2.0;
        let mut out = [(0.0, 0.0, 0.0); MAX_COMPONENTS];
        let mut len = 0;
        for &(freq, amplitude) in components {
            if len == MAX_COMPONENTS || !(freq > 0.0 && freq < nyquist) || !amplitude.is_finite() {
                continue;
            }
            out[len] = (TAU * freq / f64::from(rate), amplitude, 0.0);
            len += 1;
        }
        Ok(Self {
            components: out,
            len,
        })
    }

    /// One sine of `freq` Hz at `level_dbfs` (0 dBFS peaks at full scale).
    pub fn sine(freq: f64, level_dbfs: f64, rate: u32) -> Result<Self, AudioError> {
        Self::new(&[(freq, dbfs_to_amplitude(level_dbfs))], rate)
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let mut sum = 0.0;
            for (step, amplitude, phase) in &mut self.components[..self.len] {
                sum += *amplitude * phase.sin();
                *phase += *step;
                if *phase >= TAU {
                    *phase -= TAU;
                }
            }
            *s = sum.round().clamp(-32_768.0, 32_767.0) as i16;
        }
    }

    /// Restarts every component at phase 0.
    pub fn reset(&mut self) {
        for c in &mut self.components {
            c.2 = 0.0;
        }
    }
}

/// `duration` of silence at `rate` Hz.
pub fn silence(duration: Duration, rate: u32) -> Result<Pcm, AudioError> {
    Ok(Pcm {
        rate,
        samples: vec![0; generated_len(duration, rate)?],
    })
}

/// A sine of `freq_hz` lasting `duration` at `rate` Hz, peaking at `level_dbfs`.
pub fn tone(
    freq_hz: f64,
    duration: Duration,
    rate: u32,
    level_dbfs: f64,
) -> Result<Pcm, AudioError> {
    let mut g = ToneGenerator::sine(freq_hz, level_dbfs, rate)?;
    let mut samples = vec![0; generated_len(duration, rate)?];
    g.fill(&mut samples);
    Ok(Pcm { rate, samples })
}

/// The linear gain of `db`, clamped to [`MIN_VOLUME_DB`]..=[`MAX_VOLUME_DB`] (NaN is 0 dB).
pub fn volume_gain(db: f64) -> f64 {
    let db = if db.is_nan() {
        0.0
    } else {
        db.clamp(MIN_VOLUME_DB, MAX_VOLUME_DB)
    };
    10f64.powf(db / 20.0)
}

/// Changes the level of `samples` by `db` (clamped to the SWML range -40..=40), saturating at
/// full scale.
pub fn apply_volume(samples: &mut [i16], db: f64) {
    let gain = volume_gain(db);
    if gain == 1.0 {
        return;
    }
    let gain = gain as f32;
    for s in samples.iter_mut() {
        *s = (f32::from(*s) * gain).round().clamp(-32_768.0, 32_767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::Goertzel;

    #[test]
    fn a_tone_has_its_frequency_and_level() {
        let pcm = tone(700.0, Duration::from_millis(500), 8_000, -6.0).unwrap();
        assert_eq!(pcm.samples.len(), 4_000);
        let expected = dbfs_to_amplitude(-6.0);
        let at = Goertzel::new(700.0, 8_000).amplitude(&pcm.samples);
        assert!(
            (at - expected).abs() < expected * 0.01,
            "{at} vs {expected}"
        );
        let peak = pcm.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(
            (f64::from(peak) - expected).abs() < expected * 0.01,
            "{peak}"
        );
        assert!(Goertzel::new(1_000.0, 8_000).amplitude(&pcm.samples) < expected * 0.01);
    }

    #[test]
    fn frames_continue_the_phase() {
        let whole = tone(440.0, Duration::from_millis(100), 48_000, -10.0).unwrap();
        let mut g = ToneGenerator::sine(440.0, -10.0, 48_000).unwrap();
        let mut frames = vec![0i16; 4_800];
        for frame in frames.chunks_mut(960) {
            g.fill(frame);
        }
        assert_eq!(frames, whole.samples);
    }

    #[test]
    fn silence_is_zeros_of_the_right_length() {
        let pcm = silence(Duration::from_millis(1_500), 48_000).unwrap();
        assert_eq!(pcm.samples.len(), 72_000);
        assert!(pcm.samples.iter().all(|&s| s == 0));
        assert_eq!(pcm.duration(), Duration::from_millis(1_500));
        assert!(silence(Duration::from_secs(1), 0).is_err());
        assert!(matches!(
            silence(Duration::from_secs(601), 8_000),
            Err(AudioError::TooLong { .. })
        ));
        assert!(tone(440.0, Duration::from_secs(3_600), 8_000, -6.0).is_err());
    }

    #[test]
    fn components_the_rate_cannot_carry_are_left_out() {
        let mut g = ToneGenerator::new(&[(5_000.0, 10_000.0), (f64::NAN, 1.0)], 8_000).unwrap();
        let mut out = [1i16; 160];
        g.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0));
    }

    #[test]
    fn volume_scales_clamps_and_saturates() {
        let mut x = [1_000i16, -1_000, 20_000, -20_000];
        apply_volume(&mut x, 6.0);
        assert_eq!(x[0], 1_995);
        assert_eq!(x[1], -1_995);
        assert_eq!(x[2], 32_767);
        assert_eq!(x[3], -32_768);

        let mut y = [10_000i16];
        apply_volume(&mut y, -100.0);
        assert_eq!(y[0], 100, "clamped to -40 dB");
        let mut z = [100i16];
        apply_volume(&mut z, 100.0);
        assert_eq!(z[0], 10_000, "clamped to +40 dB");
        let mut n = [1_234i16];
        apply_volume(&mut n, f64::NAN);
        assert_eq!(n[0], 1_234);
    }
}
