//! In-band DTMF detection (ITU-T Q.23 frequencies) for callers whose digits arrive as audio
//! rather than RFC 4733 events: Goertzel filters over 12.8 ms blocks, with level, twist,
//! relative-peak and tone-to-total-energy checks, and a digit reported once two blocks in a row
//! agree (so tones of 40 ms and more, separated by 40 ms pauses, are each reported once).

use crate::error::AudioError;
use crate::goertzel::Goertzel;
use crate::pcm::rate_supported;

/// The low (row) group in Hz.
const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// The high (column) group in Hz.
const COLUMNS: [f64; 4] = [1_209.0, 1_336.0, 1_477.0, 1_633.0];
/// The keypad by row and column.
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Block length in seconds (102 samples at 8 kHz).
const BLOCK_SECONDS: f64 = 0.012_8;
/// Largest block, at the highest supported rate.
const MAX_BLOCK: usize = 2_458;
/// Weakest tone accepted, as a peak amplitude (-33 dBFS).
const MIN_AMPLITUDE: f64 = 733.0;
/// Most the row tone may exceed the column tone by (8 dB, in power).
const ROW_OVER_COLUMN: f64 = 6.31;
/// Most the column tone may exceed the row tone by (4 dB, in power).
const COLUMN_OVER_ROW: f64 = 2.51;
/// How much stronger the chosen tone must be than the others of its group (8 dB, in power).
const RELATIVE_PEAK: f64 = 6.31;
/// Least share of the block's energy the two tones carry.
const MIN_TONE_SHARE: f64 = 0.6;

/// Finds DTMF digits in a stream of mono samples, frame by frame.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    rows: [Goertzel; 4],
    columns: [Goertzel; 4],
    block: [i16; MAX_BLOCK],
    block_len: usize,
    filled: usize,
    /// The last two blocks' findings, newest last.
    recent: [Option<char>; 2],
    /// The digit being heard (already reported).
    current: Option<char>,
}

impl DtmfDetector {
    /// A detector for samples at `rate` Hz.
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        if !rate_supported(rate) || rate < 4_000 {
            return Err(AudioError::InvalidParameter(
                "sample rate out of range for DTMF",
            ));
        }
        let block_len = ((f64::from(rate) * BLOCK_SECONDS).round() as usize).min(MAX_BLOCK);
        Ok(Self {
            rows: ROWS.map(|f| Goertzel::new(f, rate)),
            columns: COLUMNS.map(|f| Goertzel::new(f, rate)),
            block: [0; MAX_BLOCK],
            block_len,
            filled: 0,
            recent: [None; 2],
            current: None,
        })
    }

    /// Takes the next samples and calls `on_digit` for each digit that starts in them.
    pub fn process(&mut self, mut samples: &[i16], mut on_digit: impl FnMut(char)) {
        while !samples.is_empty() {
            let n = (self.block_len - self.filled).min(samples.len());
            self.block[self.filled..self.filled + n].copy_from_slice(&samples[..n]);
            self.filled += n;
            samples = &samples[n..];
            if self.filled == self.block_len {
                self.filled = 0;
                let found = self.classify();
                self.recent = [self.recent[1], found];
                if self.recent[0] == self.recent[1] && self.recent[1] != self.current {
                    self.current = self.recent[1];
                    if let Some(digit) = self.current {
                        on_digit(digit);
                    }
                }
            }
        }
    }

    /// The digit one block holds, if it passes every check.
    fn classify(&self) -> Option<char> {
        let block = &self.block[..self.block_len];
        let rows = self.rows.map(|g| g.power(block));
        let columns = self.columns.map(|g| g.power(block));
        let (r, row) = strongest(&rows)?;
        let (c, column) = strongest(&columns)?;
        let n = self.block_len as f64;
        // A sine of amplitude A gives Goertzel power (A·N/2)².
        let min_power = (MIN_AMPLITUDE * n / 2.0).powi(2);
        if row < min_power || column < min_power {
            return None;
        }
        if row > column * ROW_OVER_COLUMN || column > row * COLUMN_OVER_ROW {
            return None;
        }
        let peaks_clear = |powers: &[f64; 4], best: usize| {
            powers
                .iter()
                .enumerate()
                .all(|(i, &p)| i == best || p * RELATIVE_PEAK < powers[best])
        };
        if !peaks_clear(&rows, r) || !peaks_clear(&columns, c) {
            return None;
        }
        // A sine's energy over the block is 2·P/N.
        let total: f64 = block.iter().map(|&s| f64::from(s).powi(2)).sum();
        if 2.0 * (row + column) / n < MIN_TONE_SHARE * total {
            return None;
        }
        Some(KEYS[r][c])
    }
}

/// The index and power of the largest of `powers`.
fn strongest(powers: &[f64; 4]) -> Option<(usize, f64)> {
    powers
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests;
