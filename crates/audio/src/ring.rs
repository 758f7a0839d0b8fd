//! Ringback tones by country: frequencies and cadences from ITU-T E.180 Supplement 2 and the
//! national tables derived from it. An unknown country gets the North American tone.

use std::time::Duration;

use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported, samples_for};
use crate::tone::{ToneGenerator, dbfs_to_amplitude, generated_len};

/// Peak level of a ringback tone (all components together), in dBFS.
pub const RING_LEVEL_DBFS: f64 = -12.0;

/// One country's ringback tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ringback {
    /// Sine components: frequency in Hz and relative amplitude (they sum to 1).
    pub components: &'static [(f64, f64)],
    /// Alternating on and off times in milliseconds, starting with on; the pattern repeats.
    pub cadence: &'static [u32],
}

const US: Ringback = Ringback {
    components: &[(440.0, 0.5), (480.0, 0.5)],
    cadence: &[2_000, 4_000],
};
/// 400+450 Hz, double ring (UK, Australia, New Zealand).
const DOUBLE_RING: Ringback = Ringback {
    components: &[(400.0, 0.5), (450.0, 0.5)],
    cadence: &[400, 200, 400, 2_000],
};
const CEPT_1_4: Ringback = Ringback {
    components: &[(425.0, 1.0)],
    cadence: &[1_000, 4_000],
};
const FR: Ringback = Ringback {
    components: &[(440.0, 1.0)],
    cadence: &[1_500, 3_500],
};
const ES: Ringback = Ringback {
    components: &[(425.0, 1.0)],
    cadence: &[1_500, 3_000],
};
const SE: Ringback = Ringback {
    components: &[(425.0, 1.0)],
    cadence: &[1_000, 5_000],
};
const AT: Ringback = Ringback {
    components: &[(440.0, 1.0)],
    cadence: &[1_000, 5_000],
};
/// 400 Hz amplitude-modulated by 16 Hz: the carrier and its two side bands.
const JP: Ringback = Ringback {
    components: &[(400.0, 0.5), (384.0, 0.25), (416.0, 0.25)],
    cadence: &[1_000, 2_000],
};
const TW: Ringback = Ringback {
    components: &[(440.0, 0.5), (480.0, 0.5)],
    cadence: &[1_000, 2_000],
};
const CL: Ringback = Ringback {
    components: &[(400.0, 1.0)],
    cadence: &[1_000, 3_000],
};

impl Ringback {
    /// The ringback of `country` (ISO 3166 alpha-2, case-insensitive; `uk` is accepted for
    /// `gb`); North America's for an unknown or missing country.
    pub fn for_country(country: Option<&str>) -> Ringback {
        let code = country.map(|c| c.trim().to_ascii_lowercase());
        match code.as_deref() {
            Some("gb" | "uk" | "au" | "nz") => DOUBLE_RING,
            Some("de" | "it" | "nl" | "no" | "fi" | "gr") => CEPT_1_4,
            Some("fr") => FR,
            Some("es") => ES,
            Some("se") => SE,
            Some("at") => AT,
            Some("jp") => JP,
            Some("tw") => TW,
            Some("cl") => CL,
            _ => US,
        }
    }

    /// The length of one cycle of the cadence, in milliseconds.
    pub fn period_ms(&self) -> u32 {
        self.cadence.iter().sum()
    }
}

/// A ringback tone generated frame by frame, its cadence continuing across calls.
#[derive(Debug, Clone)]
pub struct RingGenerator {
    tone: ToneGenerator,
    /// The cadence in samples.
    cadence: [usize; 8],
    steps: usize,
    /// The current cadence step and the samples left in it.
    step: usize,
    left: usize,
}

impl RingGenerator {
    /// A generator of `ringback` at `rate` Hz.
    pub fn new(ringback: &Ringback, rate: u32) -> Result<Self, AudioError> {
        if !rate_supported(rate) {
            return Err(AudioError::InvalidParameter("sample rate out of range"));
        }
        let peak = dbfs_to_amplitude(RING_LEVEL_DBFS);
        let mut components = [(0.0, 0.0); crate::tone::MAX_COMPONENTS];
        for (c, &(freq, share)) in components.iter_mut().zip(ringback.components) {
            *c = (freq, share * peak);
        }
        let used = ringback.components.len().min(components.len());
        let tone = ToneGenerator::new(&components[..used], rate)?;
        let mut cadence = [0usize; 8];
        let steps = ringback.cadence.len().min(cadence.len());
        for (c, &ms) in cadence.iter_mut().zip(ringback.cadence) {
            *c = samples_for(Duration::from_millis(u64::from(ms)), rate);
        }
        if steps == 0 || cadence[..steps].iter().all(|&n| n == 0) {
            return Err(AudioError::InvalidParameter("empty cadence"));
        }
        Ok(Self {
            tone,
            cadence,
            steps,
            step: 0,
            left: cadence[0],
        })
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, mut out: &mut [i16]) {
        while !out.is_empty() {
            while self.left == 0 {
                self.step = (self.step + 1) % self.steps;
                self.left = self.cadence[self.step];
                if self.step.is_multiple_of(2) {
                    self.tone.reset();
                }
            }
            let n = self.left.min(out.len());
            let (now, rest) = out.split_at_mut(n);
            if self.step.is_multiple_of(2) {
                self.tone.fill(now);
            } else {
                now.fill(0);
            }
            self.left -= n;
            out = rest;
        }
    }
}

/// `duration` of the ringback tone of `country` (see [`Ringback::for_country`]) at `rate` Hz.
pub fn ring(duration: Duration, country: Option<&str>, rate: u32) -> Result<Pcm, AudioError> {
    let mut g = RingGenerator::new(&Ringback::for_country(country), rate)?;
    let mut samples = vec![0; generated_len(duration, rate)?];
    g.fill(&mut samples);
    Ok(Pcm { rate, samples })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::Goertzel;

    /// On/off per 10 ms block: whether the block carries signal.
    fn activity(samples: &[i16], rate: u32) -> Vec<bool> {
        samples
            .chunks(rate as usize / 100)
            .map(|b| b.iter().any(|&s| s != 0))
            .collect()
    }

    /// The cadence as run lengths of 10 ms blocks.
    fn runs(active: &[bool]) -> Vec<(bool, usize)> {
        let mut out: Vec<(bool, usize)> = Vec::new();
        for &a in active {
            match out.last_mut() {
                Some((v, n)) if *v == a => *n += 1,
                _ => out.push((a, 1)),
            }
        }
        out
    }

    #[test]
    fn us_ringback_is_440_480_two_on_four_off() {
        let pcm = ring(Duration::from_secs(12), Some("us"), 8_000).unwrap();
        assert_eq!(
            runs(&activity(&pcm.samples, 8_000)),
            vec![(true, 200), (false, 400), (true, 200), (false, 400)]
        );
        let on = &pcm.samples[..16_000];
        let each = dbfs_to_amplitude(RING_LEVEL_DBFS) / 2.0;
        for f in [440.0, 480.0] {
            let a = Goertzel::new(f, 8_000).amplitude(on);
            assert!((a - each).abs() < each * 0.02, "{f}: {a}");
        }
        assert!(Goertzel::new(425.0, 8_000).amplitude(on) < each * 0.1);
    }

    #[test]
    fn uk_ringback_is_a_double_ring_of_400_450() {
        for country in ["gb", "UK", "au"] {
            let pcm = ring(Duration::from_secs(3), Some(country), 48_000).unwrap();
            assert_eq!(
                runs(&activity(&pcm.samples, 48_000)),
                vec![(true, 40), (false, 20), (true, 40), (false, 200)],
                "{country}"
            );
            let on = &pcm.samples[..19_200];
            for f in [400.0, 450.0] {
                assert!(
                    Goertzel::new(f, 48_000).amplitude(on) > 1_000.0,
                    "{country} {f}"
                );
            }
        }
    }

    #[test]
    fn cadences_by_country() {
        let cases: [(&str, f64, [usize; 2]); 5] = [
            ("de", 425.0, [100, 400]),
            ("it", 425.0, [100, 400]),
            ("fr", 440.0, [150, 350]),
            ("jp", 400.0, [100, 200]),
            ("es", 425.0, [150, 300]),
        ];
        for (country, freq, [on, off]) in cases {
            let period_ms = (on + off) as u64 * 10;
            let pcm = ring(Duration::from_millis(period_ms), Some(country), 8_000).unwrap();
            let r = runs(&activity(&pcm.samples, 8_000));
            // The JP tone's envelope touches zero at 16 Hz but never for a whole 10 ms block.
            assert_eq!(r, vec![(true, on), (false, off)], "{country}");
            let a = Goertzel::new(freq, 8_000).amplitude(&pcm.samples[..on * 80]);
            assert!(a > 1_000.0, "{country}: {a}");
        }
    }

    #[test]
    fn unknown_or_missing_country_is_us() {
        assert_eq!(Ringback::for_country(Some("zz")), US);
        assert_eq!(Ringback::for_country(None), US);
        assert_eq!(Ringback::for_country(Some(" DE ")), CEPT_1_4);
        assert_eq!(US.period_ms(), 6_000);
        assert!(ring(Duration::from_secs(3_600), None, 8_000).is_err());
    }

    #[test]
    fn frames_continue_the_cadence() {
        let whole = ring(Duration::from_secs(7), Some("gb"), 8_000).unwrap();
        let mut g = RingGenerator::new(&Ringback::for_country(Some("gb")), 8_000).unwrap();
        let mut framed = vec![0i16; whole.samples.len()];
        for frame in framed.chunks_mut(160) {
            g.fill(frame);
        }
        assert_eq!(framed, whole.samples);
    }
}
