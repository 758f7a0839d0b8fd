//! RFC 4733 telephone-events (DTMF) received on a plain-RTP leg: one digit per event, reported
//! when the event ends (its end packet is sent three times; the event's RTP timestamp tells
//! them apart from the next press of the same key).

/// A finished key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub digit: char,
    /// How long the key was pressed, in milliseconds.
    pub duration_ms: u32,
}

/// Turns a leg's telephone-event packets into digits.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    /// RTP timestamp of the last event reported.
    reported: Option<u32>,
}

impl DtmfReceiver {
    /// Takes one telephone-event payload (at `clock_rate` Hz) with its RTP timestamp; returns the
    /// digit when this packet ends a new event.
    pub fn receive(&mut self, payload: &[u8], ts: u32, clock_rate: u32) -> Option<Digit> {
        let [event, flags, d0, d1, ..] = *payload else {
            return None;
        };
        if flags & 0x80 == 0 || self.reported == Some(ts) {
            return None;
        }
        let digit = match event {
            0..=9 => char::from(b'0' + event),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + event - 12),
            _ => return None,
        };
        self.reported = Some(ts);
        let duration = u64::from(u16::from_be_bytes([d0, d1]));
        Some(Digit {
            digit,
            duration_ms: (duration * 1000 / u64::from(clock_rate.max(1))) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(digit: u8, end: bool, duration: u16) -> Vec<u8> {
        let mut p = vec![digit, if end { 0x80 | 10 } else { 10 }];
        p.extend_from_slice(&duration.to_be_bytes());
        p
    }

    #[test]
    fn one_digit_per_event_when_it_ends() {
        let mut r = DtmfReceiver::default();
        assert_eq!(r.receive(&event(5, false, 160), 1000, 8000), None);
        assert_eq!(r.receive(&event(5, false, 320), 1000, 8000), None);
        let five = Some(Digit {
            digit: '5',
            duration_ms: 60,
        });
        assert_eq!(r.receive(&event(5, true, 480), 1000, 8000), five);
        // The end packet's two retransmissions.
        assert_eq!(r.receive(&event(5, true, 480), 1000, 8000), None);
        assert_eq!(r.receive(&event(5, true, 480), 1000, 8000), None);
        // The same key again is a new event (new timestamp).
        assert_eq!(r.receive(&event(5, true, 480), 3000, 8000), five);
        assert_eq!(
            r.receive(&event(11, true, 4800), 9000, 48000)
                .map(|d| d.digit),
            Some('#')
        );
        assert_eq!(
            r.receive(&event(10, true, 0), 9100, 8000).map(|d| d.digit),
            Some('*')
        );
        assert_eq!(
            r.receive(&event(13, true, 0), 9200, 8000).map(|d| d.digit),
            Some('B')
        );
        assert_eq!(r.receive(&event(16, true, 0), 9300, 8000), None, "flash");
        assert_eq!(r.receive(&[1, 0x80], 9400, 8000), None, "truncated");
    }
}
