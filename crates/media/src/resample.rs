//! 8 kHz ↔ 48 kHz conversion (factor 6) for G.711 legs in Opus rooms: one windowed-sinc low-pass
//! FIR, run polyphase for interpolation and every sixth sample for decimation. Streaming (the
//! filter history carries across frames) and allocation-free per frame.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// The rate ratio.
pub const FACTOR: usize = 6;
/// Filter length at 48 kHz (a multiple of [`FACTOR`]).
const TAPS: usize = 192;
/// Taps per polyphase branch.
const BRANCH: usize = TAPS / FACTOR;
/// Cut-off: below 8 kHz's Nyquist frequency with room for the transition band.
const CUTOFF_HZ: f64 = 3_500.0;
const HIGH_RATE: f64 = 48_000.0;

/// The low-pass filter (Blackman-windowed sinc, unity DC gain).
fn lowpass() -> &'static [f32; TAPS] {
    static FILTER: OnceLock<[f32; TAPS]> = OnceLock::new();
    FILTER.get_or_init(|| {
        let fc = CUTOFF_HZ / HIGH_RATE;
        let centre = (TAPS - 1) as f64 / 2.0;
        let mut h = [0f64; TAPS];
        for (k, tap) in h.iter_mut().enumerate() {
            let x = k as f64 - centre;
            let sinc = if x == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * x).sin() / (PI * x)
            };
            let phase = 2.0 * PI * k as f64 / (TAPS - 1) as f64;
            let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
            *tap = sinc * window;
        }
        let sum: f64 = h.iter().sum();
        h.map(|t| (t / sum) as f32)
    })
}

/// A sample history whose last `N` samples are always one contiguous slice (each sample is
/// written twice, `N` apart).
struct History<const N: usize> {
    buf: Vec<f32>,
    pos: usize,
}

impl<const N: usize> History<N> {
    fn new() -> Self {
        Self {
            buf: vec![0.0; 2 * N],
            pos: 0,
        }
    }

    /// Appends a sample; returns the last `N` samples, oldest first.
    fn push(&mut self, sample: f32) -> &[f32] {
        self.buf[self.pos] = sample;
        self.buf[self.pos + N] = sample;
        self.pos = (self.pos + 1) % N;
        &self.buf[self.pos..self.pos + N]
    }
}

/// 8 kHz → 48 kHz.
pub struct Upsampler {
    history: History<BRANCH>,
}

impl Default for Upsampler {
    fn default() -> Self {
        Self {
            history: History::new(),
        }
    }
}

impl Upsampler {
    /// Interpolates `input` into `out`, which must hold `FACTOR × input.len()` samples (extra
    /// input is ignored).
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) {
        let h = lowpass();
        for (x, chunk) in input.iter().zip(out.chunks_exact_mut(FACTOR)) {
            let recent = self.history.push(*x);
            for (phase, o) in chunk.iter_mut().enumerate() {
                // y[6i + p] = 6 · Σ_j h[p + 6j] · x[i − j]; `recent` is oldest first.
                let mut acc = 0.0f32;
                for (j, sample) in recent.iter().rev().enumerate() {
                    acc += h[phase + FACTOR * j] * sample;
                }
                *o = acc * FACTOR as f32;
            }
        }
    }
}

/// 48 kHz → 8 kHz, low-passed before decimation (no aliasing of what is above 4 kHz).
pub struct Downsampler {
    history: History<TAPS>,
}

impl Default for Downsampler {
    fn default() -> Self {
        Self {
            history: History::new(),
        }
    }
}

impl Downsampler {
    /// Decimates `input` into `out`, which must hold `input.len() / FACTOR` samples.
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) {
        let h = lowpass();
        for (chunk, o) in input.chunks_exact(FACTOR).zip(out.iter_mut()) {
            let mut recent: &[f32] = &[];
            for x in chunk {
                recent = self.history.push(*x);
            }
            // The filter is symmetric, so oldest-first times h is the convolution.
            *o = recent.iter().zip(h.iter()).map(|(s, t)| s * t).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tone_amplitude_at;

    fn sine(freq: f32, rate: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * freq * i as f32 / rate).sin())
            .collect()
    }

    #[test]
    fn the_filter_passes_speech_and_stops_above_4_khz() {
        let h = lowpass();
        let gain = |f: f64| {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (k, t) in h.iter().enumerate() {
                let w = 2.0 * PI * f / HIGH_RATE * k as f64;
                re += f64::from(*t) * w.cos();
                im -= f64::from(*t) * w.sin();
            }
            (re * re + im * im).sqrt()
        };
        for f in [100.0, 1_000.0, 2_500.0] {
            assert!((gain(f) - 1.0).abs() < 0.01, "{f} Hz: {}", gain(f));
        }
        for f in [4_500.0, 8_000.0, 12_000.0, 20_000.0] {
            assert!(gain(f) < 0.001, "{f} Hz: {}", gain(f));
        }
    }

    #[test]
    fn upsampling_keeps_the_tone_and_leaves_no_images() {
        let input = sine(1_000.0, 8_000.0, 1_600);
        let mut up = Upsampler::default();
        let mut out = vec![0.0; input.len() * FACTOR];
        // In 20 ms frames, as the mixer does, to check the history carries across calls.
        for (i, o) in input.chunks(160).zip(out.chunks_mut(960)) {
            up.process(i, o);
        }
        let tail = &out[4_800..];
        let a = tone_amplitude_at(tail, 1_000.0, 48_000);
        assert!((a - 0.5).abs() < 0.02, "1 kHz amplitude {a}");
        for image in [7_000.0, 9_000.0, 15_000.0] {
            let i = tone_amplitude_at(tail, image, 48_000);
            assert!(i < 0.002, "image at {image} Hz: {i}");
        }
    }

    #[test]
    fn downsampling_keeps_the_tone_and_does_not_alias() {
        let mut down = Downsampler::default();
        let tone = sine(1_000.0, 48_000.0, 9_600);
        let mut out = vec![0.0; tone.len() / FACTOR];
        for (i, o) in tone.chunks(960).zip(out.chunks_mut(160)) {
            down.process(i, o);
        }
        let a = tone_amplitude_at(&out[800..], 1_000.0, 8_000);
        assert!((a - 0.5).abs() < 0.02, "1 kHz amplitude {a}");

        // 5 kHz would fold to 3 kHz with plain decimation.
        let mut down = Downsampler::default();
        let high = sine(5_000.0, 48_000.0, 9_600);
        down.process(&high, &mut out);
        let alias = tone_amplitude_at(&out[800..], 3_000.0, 8_000);
        assert!(alias < 0.002, "alias at 3 kHz: {alias}");
    }
}
