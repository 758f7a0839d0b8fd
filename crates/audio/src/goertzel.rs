//! The Goertzel algorithm: the power of one frequency in a block of samples.

use std::f64::consts::TAU;

/// One Goertzel filter tuned to a frequency at a sample rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Goertzel {
    coeff: f64,
}

impl Goertzel {
    /// A filter for `freq` Hz in samples taken at `rate` Hz.
    pub(crate) fn new(freq: f64, rate: u32) -> Self {
        Self {
            coeff: 2.0 * (TAU * freq / f64::from(rate)).cos(),
        }
    }

    /// The squared magnitude of the filter's frequency in `samples` (full scale ±32768).
    pub(crate) fn power(&self, samples: &[i16]) -> f64 {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }

    /// The amplitude (peak, full scale 32768) of a sine at the filter's frequency that would give
    /// this block's power (a measurement for tests).
    #[cfg(test)]
    pub(crate) fn amplitude(&self, samples: &[i16]) -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        2.0 * self.power(samples).sqrt() / samples.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amplitude * (TAU * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    #[test]
    fn measures_the_amplitude_of_its_frequency_only() {
        let x = sine(700.0, 10_000.0, 8_000, 800);
        let at = Goertzel::new(700.0, 8_000).amplitude(&x);
        let off = Goertzel::new(1_200.0, 8_000).amplitude(&x);
        assert!((at - 10_000.0).abs() < 50.0, "{at}");
        assert!(off < 100.0, "{off}");
    }
}
