//! Collecting a `prompt`'s DTMF digits, sans-IO: the call controller feeds it the digits the
//! caller presses (from the SDK's `sendDigits` or RFC 4733 events on a SIP leg) and the time,
//! and it says when the prompt is over and with which [`Outcome`].
//!
//! Timing follows SWML's `prompt`: `initial_timeout` runs from when the prompt's audio has
//! finished (at once when there is none); a digit pressed while it plays stops it (the
//! controller checks [`DigitCollector::has_digits`]); then `digit_timeout` runs from each digit.
//! The prompt ends at `max_digits` digits, at a terminator, or at a timeout.

use std::time::{Duration, Instant};

use crate::interp::{Outcome, Prompt};

/// The digits of one `prompt` as they come in.
#[derive(Debug, Clone)]
pub struct DigitCollector {
    max_digits: usize,
    terminators: String,
    digit_timeout: Duration,
    initial_timeout: Duration,
    digits: String,
    deadline: Option<Instant>,
}

impl DigitCollector {
    /// Starts collecting for `prompt` at `now`; `playing` says whether its audio is still to play
    /// (then the initial timeout waits for [`DigitCollector::play_finished`]).
    pub fn new(prompt: &Prompt, playing: bool, now: Instant) -> Self {
        Self {
            max_digits: usize::try_from(prompt.max_digits).unwrap_or(usize::MAX),
            terminators: prompt.terminators.clone(),
            digit_timeout: prompt.digit_timeout,
            initial_timeout: prompt.initial_timeout,
            digits: String::new(),
            deadline: (!playing).then(|| now + prompt.initial_timeout),
        }
    }

    /// The prompt's audio has finished at `now`: the wait for the first digit starts.
    pub fn play_finished(&mut self, now: Instant) {
        if self.digits.is_empty() && self.deadline.is_none() {
            self.deadline = Some(now + self.initial_timeout);
        }
    }

    /// Whether a digit has been pressed (a prompt still playing stops then).
    pub fn has_digits(&self) -> bool {
        !self.digits.is_empty()
    }

    /// When [`DigitCollector::on_time`] must next be called, if the prompt is waiting.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The caller pressed `digit` at `now`; the outcome if that ends the prompt. Anything but
    /// `0-9`, `*`, `#` and `A-D` is ignored.
    pub fn on_digit(&mut self, digit: char, now: Instant) -> Option<Outcome> {
        let digit = digit.to_ascii_uppercase();
        if !crate::dtmf::is_key(digit) {
            return None;
        }
        if self.terminators.contains(digit) {
            return Some(self.finish(Some(digit)));
        }
        self.digits.push(digit);
        if self.digits.len() >= self.max_digits {
            return Some(self.finish(None));
        }
        self.deadline = Some(now + self.digit_timeout);
        None
    }

    /// The time is `now`; the outcome if a timeout has ended the prompt (the digits so far,
    /// possibly none: no input).
    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        match self.deadline {
            Some(deadline) if now >= deadline => Some(self.finish(None)),
            _ => None,
        }
    }

    fn finish(&mut self, terminator: Option<char>) -> Outcome {
        self.deadline = None;
        Outcome::Digits {
            digits: std::mem::take(&mut self.digits),
            terminator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::Say;

    fn prompt(max_digits: u32, terminators: &str) -> Prompt {
        Prompt {
            play: vec!["silence:1".into()],
            volume: 0.0,
            say: Say {
                voice: "Polly.Salli".into(),
                language: "en-US".into(),
                gender: "female".into(),
            },
            max_digits,
            terminators: terminators.into(),
            digit_timeout: Duration::from_secs(2),
            initial_timeout: Duration::from_secs(5),
        }
    }

    fn digits(outcome: Option<Outcome>) -> Option<(String, Option<char>)> {
        match outcome {
            Some(Outcome::Digits { digits, terminator }) => Some((digits, terminator)),
            _ => None,
        }
    }

    #[test]
    fn max_digits_end_the_prompt() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(2, ""), false, t0);
        assert_eq!(c.on_digit('1', t0), None);
        assert!(c.has_digits());
        assert_eq!(
            digits(c.on_digit('2', t0)),
            Some(("12".into(), None)),
            "the second digit ends it"
        );
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn a_terminator_ends_the_prompt_and_is_not_a_digit() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(10, "#*"), false, t0);
        c.on_digit('4', t0);
        c.on_digit('2', t0);
        assert_eq!(digits(c.on_digit('#', t0)), Some(("42".into(), Some('#'))));
        let mut c = DigitCollector::new(&prompt(10, "#"), false, t0);
        assert_eq!(
            digits(c.on_digit('#', t0)),
            Some((String::new(), Some('#')))
        );
    }

    #[test]
    fn the_initial_timeout_waits_for_the_play_and_gives_no_input() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(1, ""), true, t0);
        assert_eq!(c.deadline(), None, "nothing runs while the prompt plays");
        assert_eq!(c.on_time(t0 + Duration::from_secs(60)), None);
        let played = t0 + Duration::from_secs(3);
        c.play_finished(played);
        assert_eq!(c.deadline(), Some(played + Duration::from_secs(5)));
        assert_eq!(c.on_time(played + Duration::from_secs(4)), None);
        assert_eq!(
            digits(c.on_time(played + Duration::from_secs(5))),
            Some((String::new(), None))
        );
    }

    #[test]
    fn the_digit_timeout_runs_from_each_digit_and_keeps_what_was_pressed() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(4, "#"), false, t0);
        let first = t0 + Duration::from_secs(1);
        c.on_digit('7', first);
        assert_eq!(c.deadline(), Some(first + Duration::from_secs(2)));
        let second = first + Duration::from_millis(1_500);
        c.on_digit('8', second);
        assert_eq!(c.on_time(first + Duration::from_secs(2)), None);
        assert_eq!(
            digits(c.on_time(second + Duration::from_secs(2))),
            Some(("78".into(), None))
        );
    }

    #[test]
    fn a_digit_during_the_play_starts_the_digit_timeout() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(3, ""), true, t0);
        c.on_digit('5', t0);
        assert!(c.has_digits(), "barge-in: the play stops");
        c.play_finished(t0 + Duration::from_millis(10));
        assert_eq!(c.deadline(), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn other_characters_are_ignored_and_letters_are_upper_case() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(&prompt(2, ""), false, t0);
        for ignored in ['x', 'E', ' ', 'w', '+'] {
            assert_eq!(c.on_digit(ignored, t0), None);
        }
        assert!(!c.has_digits());
        c.on_digit('a', t0);
        assert_eq!(digits(c.on_digit('d', t0)), Some(("AD".into(), None)));
    }
}
