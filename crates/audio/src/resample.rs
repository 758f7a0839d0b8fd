//! Sample-rate conversion: a polyphase windowed-sinc (Kaiser) low-pass filter, exact for rational
//! ratios with few phases (44.1 kHz → 48 kHz has 160) and interpolated between 256 phases
//! otherwise. Streaming: the filter history carries across calls, and a steady frame size needs
//! no allocation after the first frame.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported, to_i16};

/// Zero crossings of the sinc on each side of the centre, counted at the lower rate.
const ZERO_CROSSINGS: f64 = 24.0;
/// Cut-off as a fraction of the lower rate's Nyquist frequency; the transition band of the
/// Kaiser window then ends at that Nyquist frequency.
const CUTOFF: f64 = 0.9;
/// Kaiser window β (about 80 dB stop-band attenuation).
const KAISER_BETA: f64 = 8.0;
/// Most phases computed exactly; ratios that need more interpolate between [`INTERPOLATED`].
const MAX_EXACT_PHASES: u64 = 1_024;
/// Phases of an interpolated filter table.
const INTERPOLATED: u64 = 256;
/// Filter tables kept for reuse.
const CACHED_KERNELS: usize = 16;
/// Input samples a new resampler makes room for (a 20 ms frame at 96 kHz).
const INITIAL_CHUNK: usize = 1_920;

/// The filter table of one conversion ratio.
#[derive(Debug)]
struct Kernel {
    /// Taps on each side of the centre, in input samples.
    half: usize,
    /// Phases in the table; an interpolated table has one more row (phase 1.0).
    phases: u64,
    /// Whether each output position has its own row (no interpolation).
    exact: bool,
    /// Rows of `2 * half` coefficients.
    coeffs: Vec<f32>,
}

impl Kernel {
    fn build(up: u64, down: u64) -> Self {
        let scale = (up as f64 / down as f64).min(1.0);
        let half = (ZERO_CROSSINGS / scale).ceil() as usize;
        let exact = up <= MAX_EXACT_PHASES;
        let phases = if exact { up } else { INTERPOLATED };
        let rows = if exact { phases } else { phases + 1 };
        let taps = 2 * half;
        let fc = 0.5 * scale * CUTOFF;
        let norm = bessel_i0(KAISER_BETA);
        let mut coeffs = vec![0f32; rows as usize * taps];
        let mut values = vec![0f64; taps];
        for (p, row) in coeffs.chunks_exact_mut(taps).enumerate() {
            let frac = p as f64 / phases as f64;
            for (j, v) in values.iter_mut().enumerate() {
                let d = frac + half as f64 - 1.0 - j as f64;
                let sinc = if d == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * PI * fc * d).sin() / (PI * d)
                };
                let r = d / half as f64;
                let window = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / norm
                };
                *v = sinc * window;
            }
            let sum: f64 = values.iter().sum();
            for (c, v) in row.iter_mut().zip(&values) {
                *c = (v / sum) as f32;
            }
        }
        Self {
            half,
            phases,
            exact,
            coeffs,
        }
    }

    fn row(&self, index: usize) -> &[f32] {
        let taps = 2 * self.half;
        &self.coeffs[index * taps..(index + 1) * taps]
    }
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let quarter = x * x / 4.0;
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..64 {
        term *= quarter / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Filter tables by reduced ratio.
type KernelCache = Mutex<HashMap<(u64, u64), Arc<Kernel>>>;

/// The shared filter table for `up`/`down` (reduced), built once per ratio for the common ones.
fn kernel(up: u64, down: u64) -> Arc<Kernel> {
    static CACHE: OnceLock<KernelCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(k) = cache.lock().ok().and_then(|c| c.get(&(up, down)).cloned()) {
        return k;
    }
    let built = Arc::new(Kernel::build(up, down));
    if let Ok(mut c) = cache.lock()
        && c.len() < CACHED_KERNELS
    {
        c.insert((up, down), built.clone());
    }
    built
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A dot product with independent partial sums, which the compiler vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Converts a stream of mono samples from one rate to another.
#[derive(Debug)]
pub struct Resampler {
    kernel: Arc<Kernel>,
    /// Output positions advance by `down / up` input samples.
    up: u64,
    down: u64,
    /// Input samples not yet consumed, with the filter's history before them.
    history: Vec<f32>,
    /// The input index of `history[0]` (negative for the initial silence).
    origin: i64,
    /// The next output's position: input index `pos` plus `frac / up`.
    pos: i64,
    frac: u64,
    input_total: u64,
    output_total: u64,
    flushed: bool,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz (each within [`crate::MIN_RATE`]..=[`crate::MAX_RATE`]).
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if !rate_supported(from) || !rate_supported(to) {
            return Err(AudioError::InvalidParameter("sample rate out of range"));
        }
        let g = gcd(u64::from(from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(from) / g);
        let kernel = kernel(up, down);
        let lead = kernel.half - 1;
        let mut history = Vec::with_capacity(2 * kernel.half + INITIAL_CHUNK);
        history.resize(lead, 0.0);
        Ok(Self {
            kernel,
            up,
            down,
            history,
            origin: -(lead as i64),
            pos: 0,
            frac: 0,
            input_total: 0,
            output_total: 0,
            flushed: false,
        })
    }

    /// How many samples [`Resampler::process`] produces for `input_len` more input samples, given
    /// room; a bound for the caller's output buffer.
    pub fn output_len(&self, input_len: usize) -> usize {
        let available = self.history.len() + if self.flushed { 0 } else { input_len };
        let last = self.origin + available as i64 - 1 - self.kernel.half as i64;
        let ready = if last < self.pos {
            0
        } else {
            let span = (last + 1 - self.pos) as u64 * self.up - self.frac;
            span.div_ceil(self.down)
        };
        match self.end() {
            Some(end) => ready.min(end.saturating_sub(self.output_total)) as usize,
            None => ready as usize,
        }
    }

    /// Takes `input` and writes the output samples that are ready into `output`, returning how
    /// many. Samples that do not fit stay queued for the next call. Input after
    /// [`Resampler::flush`] is ignored.
    pub fn process(&mut self, input: &[i16], output: &mut [i16]) -> usize {
        if !self.flushed {
            self.history
                .extend(input.iter().map(|&s| f32::from(s) / 32_768.0));
            self.input_total += input.len() as u64;
        }
        self.run(output)
    }

    /// Marks the end of the input and writes the remaining output (the filter's delay) into
    /// `output`, returning how many samples; call again while it returns a full buffer. In all,
    /// the output has `ceil(input × to / from)` samples.
    pub fn flush(&mut self, output: &mut [i16]) -> usize {
        if !self.flushed {
            self.flushed = true;
            self.history
                .resize(self.history.len() + self.kernel.half, 0.0);
        }
        self.run(output)
    }

    /// The total output once flushed.
    fn end(&self) -> Option<u64> {
        self.flushed
            .then(|| (self.input_total * self.up).div_ceil(self.down))
    }

    fn run(&mut self, output: &mut [i16]) -> usize {
        let taps = 2 * self.kernel.half;
        let end = self.end();
        let mut written = 0;
        for out in output.iter_mut() {
            if end.is_some_and(|e| self.output_total >= e) {
                break;
            }
            let first = (self.pos + 1 - self.kernel.half as i64 - self.origin) as usize;
            let Some(window) = self.history.get(first..first + taps) else {
                break;
            };
            let y = if self.kernel.exact {
                dot(self.kernel.row(self.frac as usize), window)
            } else {
                let at = self.frac as f64 * self.kernel.phases as f64 / self.up as f64;
                let row = (at as usize).min(self.kernel.phases as usize - 1);
                let t = (at - row as f64) as f32;
                let a = dot(self.kernel.row(row), window);
                let b = dot(self.kernel.row(row + 1), window);
                a + (b - a) * t
            };
            *out = to_i16(y);
            written += 1;
            self.output_total += 1;
            self.frac += self.down;
            self.pos += (self.frac / self.up) as i64;
            self.frac %= self.up;
        }
        self.compact();
        written
    }

    /// Drops history the next output no longer needs.
    fn compact(&mut self) {
        let first = self.pos + 1 - self.kernel.half as i64 - self.origin;
        let drop = (first.max(0) as usize).min(self.history.len());
        self.history.drain(..drop);
        self.origin += drop as i64;
    }
}

/// `pcm` converted to `to` Hz, `ceil(len × to / from)` samples long.
pub fn resample(pcm: &Pcm, to: u32) -> Result<Pcm, AudioError> {
    if pcm.rate == to {
        return Ok(pcm.clone());
    }
    let mut r = Resampler::new(pcm.rate, to)?;
    let mut samples = Vec::new();
    push_resampled(&mut r, &pcm.samples, &mut samples);
    finish_resampled(&mut r, &mut samples);
    Ok(Pcm { rate: to, samples })
}

/// Runs `input` through `r`, appending its output to `out`.
pub(crate) fn push_resampled(r: &mut Resampler, input: &[i16], out: &mut Vec<i16>) {
    let start = out.len();
    out.resize(start + r.output_len(input.len()), 0);
    let n = r.process(input, &mut out[start..]);
    out.truncate(start + n);
}

/// Flushes `r`, appending the rest of its output to `out`.
pub(crate) fn finish_resampled(r: &mut Resampler, out: &mut Vec<i16>) {
    r.flush(&mut []);
    let start = out.len();
    out.resize(start + r.output_len(0), 0);
    let n = r.flush(&mut out[start..]);
    out.truncate(start + n);
}

#[cfg(test)]
mod tests;
