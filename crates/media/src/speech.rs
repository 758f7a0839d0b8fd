//! Talking detection from audio levels (RFC 6464 `-dBov`, or measured by the mixer).

use std::time::{Duration, Instant};

/// Smoothed level at which a member starts talking (0–100 scale; about −45 dBov).
const START_LEVEL: f32 = 65.0;
/// Smoothed level below which a talking member is considered quiet (about −57 dBov).
const STOP_LEVEL: f32 = 55.0;
/// How long a member must stay quiet before talking stops.
const STOP_AFTER: Duration = Duration::from_millis(500);
/// Weight of each new level sample (~200 ms time constant at 50 packets/s).
const SMOOTHING: f32 = 0.1;

/// Per-member talking state.
#[derive(Debug, Clone, Default)]
pub struct SpeechDetector {
    level: f32,
    talking: bool,
    quiet_since: Option<Instant>,
    last_sample: Option<Instant>,
}

impl SpeechDetector {
    /// Feeds one audio level in `-dBov` (0 = loudest, 127 = silence); returns the new talking
    /// state when it changed.
    pub fn observe(&mut self, dbov: u8, now: Instant) -> Option<bool> {
        let sample = f32::from(127 - dbov.min(127)) * 100.0 / 127.0;
        self.level += (sample - self.level) * SMOOTHING;
        self.last_sample = Some(now);
        self.update(now)
    }

    /// Accounts for time without samples (DTX or muted); returns the new talking state if it changed.
    pub fn idle(&mut self, now: Instant) -> Option<bool> {
        let silent = self
            .last_sample
            .is_none_or(|t| now.saturating_duration_since(t) >= STOP_AFTER);
        if silent {
            self.level = 0.0;
        }
        self.update(now)
    }

    fn update(&mut self, now: Instant) -> Option<bool> {
        if !self.talking {
            if self.level >= START_LEVEL {
                self.talking = true;
                self.quiet_since = None;
                return Some(true);
            }
            return None;
        }
        if self.level >= STOP_LEVEL {
            self.quiet_since = None;
            return None;
        }
        let since = *self.quiet_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= STOP_AFTER {
            self.talking = false;
            self.quiet_since = None;
            return Some(false);
        }
        None
    }

    /// Whether the member is talking.
    pub fn talking(&self) -> bool {
        self.talking
    }

    /// Smoothed level, 0 (silence) to 100.
    pub fn level(&self) -> u8 {
        self.level.clamp(0.0, 100.0) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loud_then_quiet_starts_and_stops_talking() {
        let mut d = SpeechDetector::default();
        let t0 = Instant::now();
        let mut changes = Vec::new();
        for i in 0..50u64 {
            if let Some(c) = d.observe(20, t0 + Duration::from_millis(20 * i)) {
                changes.push(c);
            }
        }
        assert_eq!(changes, vec![true]);
        assert!(d.level() > 70);
        for i in 50..150u64 {
            if let Some(c) = d.observe(127, t0 + Duration::from_millis(20 * i)) {
                changes.push(c);
            }
        }
        assert_eq!(changes, vec![true, false]);
    }

    #[test]
    fn silence_without_packets_stops_talking() {
        let mut d = SpeechDetector::default();
        let t0 = Instant::now();
        for i in 0..50u64 {
            d.observe(10, t0 + Duration::from_millis(20 * i));
        }
        assert!(d.talking());
        let later = t0 + Duration::from_secs(2);
        assert_eq!(d.idle(later), None);
        assert_eq!(d.idle(later + STOP_AFTER), Some(false));
    }
}
