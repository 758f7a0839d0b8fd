//! RFC 4733 telephone-events (DTMF) on a plain-RTP leg.
//!
//! Received: one digit per event, reported when the event ends (its end packet is sent three
//! times; the event's RTP timestamp tells them apart from the next press of the same key).
//!
//! Sent (to a leg, by the engine): each digit is a 100 ms event, one packet every 20 ms — the
//! first with the marker bit, each with the duration so far in 8 kHz ticks
//! (`telephone-event/8000`) — then its end packet three times at the same interval, then 60 ms of
//! silence until the next digit starts. Sans-IO: the shard polls the sender when a packet is due.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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
        let digit = digit_of(event)?;
        self.reported = Some(ts);
        let duration = u64::from(u16::from_be_bytes([d0, d1]));
        Some(Digit {
            digit,
            duration_ms: (duration * 1000 / u64::from(clock_rate.max(1))) as u32,
        })
    }
}

/// The key of an RFC 4733 event code (0–15), if it is one.
fn digit_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The RFC 4733 event code of a key: `0`–`9`, `*`, `#`, `A`–`D` (either case).
fn event_of(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// Most digits one request may send.
const MAX_DIGITS: usize = 64;
/// Most digits waiting to be sent on one leg.
const MAX_QUEUED: usize = 4 * MAX_DIGITS;
/// Clock of sent events (`telephone-event/8000`).
pub(crate) const EVENT_CLOCK: u32 = 8_000;
/// How long each sent digit sounds.
const TONE: Duration = Duration::from_millis(100);
/// Silence between two sent digits.
const GAP: Duration = Duration::from_millis(60);
/// Interval of a sent event's packets.
const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// Clock ticks per packet interval.
const STEP: u32 = EVENT_CLOCK / 50;
/// Packets while the tone sounds, each with a longer duration.
const TONE_PACKETS: u32 = (TONE.as_millis() / PACKET_INTERVAL.as_millis()) as u32;
/// Times the end packet is sent.
const END_PACKETS: u32 = 3;
/// Clock ticks from one digit's start to the next one's.
const CYCLE: u32 = ((TONE.as_millis() + GAP.as_millis()) as u32) * (EVENT_CLOCK / 1000);
/// RFC 4733 volume of sent events (−dBm0).
const VOLUME: u8 = 10;

/// The event codes of `digits`, checked: 1 to [`MAX_DIGITS`] keys of `0`–`9`, `*`, `#`, `A`–`D`
/// (either case). The error says what is wrong.
pub(crate) fn events_of(digits: &str) -> Result<Vec<u8>, String> {
    let events = digits
        .chars()
        .map(|c| event_of(c).ok_or_else(|| format!("{c:?} is not a DTMF key")))
        .collect::<Result<Vec<u8>, String>>()?;
    match events.len() {
        0 => Err("no digits".into()),
        n if n > MAX_DIGITS => Err(format!("{n} digits, at most {MAX_DIGITS} per request")),
        _ => Ok(events),
    }
}

/// The 4-byte RFC 4733 payload: event, end bit and volume, duration.
pub(crate) fn event_payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let [d0, d1] = duration.to_be_bytes();
    [event, (u8::from(end) << 7) | VOLUME, d0, d1]
}

/// One telephone-event packet to send, in the sender's own numbering (the leg's output stream
/// rewrites it to continue its sequence numbers and timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventPacket {
    /// Sequence number.
    pub seq: u64,
    /// Where the sender's [`EVENT_CLOCK`] timeline is at this packet.
    pub clock: u32,
    /// Ticks from the event's start (the packet's RTP timestamp) to `clock`.
    pub since_start: u32,
    /// Set on an event's first packet.
    pub marker: bool,
    /// The RFC 4733 payload.
    pub payload: [u8; 4],
    /// The first packet of a burst: the leg's output turns from audio to events.
    pub first: bool,
    /// The last packet of a burst: the leg's audio resumes after it.
    pub last: bool,
}

/// The digit being sent.
#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    started: Instant,
    /// Its RTP timestamp.
    ts: u32,
    /// Packets sent so far.
    sent: u32,
}

/// Sends digits as RFC 4733 events, back to back in a burst; digits added while a burst plays
/// join it.
#[derive(Debug, Default)]
pub(crate) struct DtmfSender {
    queue: VecDeque<u8>,
    current: Option<Sending>,
    /// When the next packet is due; `None` while idle.
    next_at: Option<Instant>,
    /// Earliest start of a new burst: the last digit's tone end plus [`GAP`].
    ready_at: Option<Instant>,
    /// Where the next digit starts on the sender's timeline.
    ts: u32,
    seq: u64,
    /// A burst is being sent.
    burst: bool,
}

impl DtmfSender {
    /// Queues event codes; `false` (nothing queued) when the queue would exceed its bound.
    pub(crate) fn enqueue(&mut self, events: &[u8], now: Instant) -> bool {
        if self.queue.len() + events.len() > MAX_QUEUED {
            return false;
        }
        self.queue.extend(events);
        if self.next_at.is_none() && !self.queue.is_empty() {
            self.next_at = Some(self.ready_at.map_or(now, |ready| ready.max(now)));
        }
        true
    }

    /// When the next packet is due, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.next_at
    }

    /// Whether a burst is under way (the leg's audio waits meanwhile).
    pub(crate) fn sending(&self) -> bool {
        self.burst
    }

    /// Drops the queued digits and the one being sent.
    pub(crate) fn cancel(&mut self) {
        self.queue.clear();
        self.current = None;
        self.next_at = None;
        self.burst = false;
    }

    /// The next packet if it is due at `now`; call until `None`.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<EventPacket> {
        let due = self.next_at.filter(|at| *at <= now)?;
        let sending = match self.current {
            Some(sending) => sending,
            None => {
                let Some(event) = self.queue.pop_front() else {
                    self.next_at = None;
                    return None;
                };
                Sending {
                    event,
                    started: due,
                    ts: self.ts,
                    sent: 0,
                }
            }
        };
        let k = sending.sent;
        let end = k >= TONE_PACKETS;
        let duration = STEP * (k + 1).min(TONE_PACKETS);
        let first = !self.burst;
        self.burst = true;
        let mut packet = EventPacket {
            seq: self.seq,
            clock: sending.ts.wrapping_add(k * STEP),
            since_start: k * STEP,
            marker: k == 0,
            payload: event_payload(sending.event, end, duration as u16),
            first,
            last: false,
        };
        self.seq += 1;
        let sent = k + 1;
        if sent < TONE_PACKETS + END_PACKETS {
            self.current = Some(Sending { sent, ..sending });
            self.next_at = Some(sending.started + PACKET_INTERVAL * sent);
            return Some(packet);
        }
        self.current = None;
        self.ts = sending.ts.wrapping_add(CYCLE);
        let next = sending.started + TONE + GAP;
        if self.queue.is_empty() {
            self.next_at = None;
            self.ready_at = Some(next);
            self.burst = false;
            packet.last = true;
        } else {
            self.next_at = Some(next);
        }
        Some(packet)
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

    #[test]
    fn digits_map_to_event_codes_and_others_are_refused() {
        assert_eq!(
            events_of("0189*#AbcD"),
            Ok(vec![0, 1, 8, 9, 10, 11, 12, 13, 14, 15])
        );
        for (event, digit) in (0..16).map(|e| (e, digit_of(e).unwrap())) {
            assert_eq!(event_of(digit), Some(event));
        }
        assert!(events_of("12x").unwrap_err().contains("'x'"));
        assert!(events_of("E").is_err());
        assert!(events_of("1 2").is_err());
        assert!(events_of("").is_err());
        assert!(events_of(&"1".repeat(MAX_DIGITS)).is_ok());
        assert!(events_of(&"1".repeat(MAX_DIGITS + 1)).is_err());
    }

    #[test]
    fn the_payload_carries_event_end_bit_volume_and_duration() {
        assert_eq!(event_payload(11, false, 160), [11, 10, 0, 160]);
        assert_eq!(event_payload(1, true, 800), [1, 0x80 | 10, 3, 32]);
    }

    /// Polls `s` every millisecond from `t0` for `ms` milliseconds; returns each packet with the
    /// millisecond it came out at.
    fn run(s: &mut DtmfSender, t0: Instant, ms: u64) -> Vec<(u64, EventPacket)> {
        let mut out = Vec::new();
        for t in 0..ms {
            while let Some(p) = s.poll(t0 + Duration::from_millis(t)) {
                out.push((t, p));
            }
        }
        out
    }

    #[test]
    fn a_digit_is_a_growing_event_then_three_end_packets() {
        let t0 = Instant::now();
        let mut s = DtmfSender::default();
        assert!(s.enqueue(&[5], t0));
        assert_eq!(s.next_due(), Some(t0));
        assert!(!s.sending(), "no packet out yet");
        let packets = run(&mut s, t0, 400);
        let summary: Vec<(u64, bool, bool, u16, u32)> = packets
            .iter()
            .map(|(t, p)| {
                let duration = u16::from_be_bytes([p.payload[2], p.payload[3]]);
                (*t, p.marker, p.payload[1] & 0x80 != 0, duration, p.clock)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, false, 160, 0),
                (20, false, false, 320, 160),
                (40, false, false, 480, 320),
                (60, false, false, 640, 480),
                (80, false, false, 800, 640),
                (100, false, true, 800, 800),
                (120, false, true, 800, 960),
                (140, false, true, 800, 1120),
            ]
        );
        assert!(packets.iter().all(|(_, p)| p.payload[0] == 5));
        let seqs: Vec<u64> = packets.iter().map(|(_, p)| p.seq).collect();
        assert_eq!(seqs, (0..8).collect::<Vec<_>>());
        // All packets of the event carry its start as timestamp.
        assert!(packets.iter().all(|(_, p)| p.clock - p.since_start == 0));
        let flags: Vec<(bool, bool)> = packets.iter().map(|(_, p)| (p.first, p.last)).collect();
        assert_eq!(flags[0], (true, false));
        assert_eq!(flags[7], (false, true));
        assert!(flags[1..7].iter().all(|f| *f == (false, false)));
        assert!(!s.sending());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn digits_follow_each_other_after_a_gap_and_later_ones_join_the_burst() {
        let t0 = Instant::now();
        let mut s = DtmfSender::default();
        assert!(s.enqueue(&[1], t0));
        let mut packets = run(&mut s, t0, 50);
        // Added while the first digit plays: appended to the same burst.
        assert!(s.enqueue(&[11], t0 + Duration::from_millis(50)));
        packets.extend(
            run(&mut s, t0 + Duration::from_millis(50), 400)
                .into_iter()
                .map(|(t, p)| (t + 50, p)),
        );
        assert_eq!(packets.len(), 16);
        let starts: Vec<(u64, u8, u32)> = packets
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(t, p)| (*t, p.payload[0], p.clock))
            .collect();
        assert_eq!(starts, [(0, 1, 0), (160, 11, 1280)]);
        assert_eq!(packets.iter().filter(|(_, p)| p.first).count(), 1);
        assert_eq!(packets.iter().filter(|(_, p)| p.last).count(), 1);
        assert!(packets[15].1.last);
        assert!(
            packets.windows(2).all(|w| w[1].1.seq == w[0].1.seq + 1),
            "one sequence"
        );
        assert!(
            packets.windows(2).all(|w| w[1].1.clock > w[0].1.clock),
            "the timeline moves on"
        );
    }

    #[test]
    fn a_new_burst_keeps_the_gap_after_the_last_tone() {
        let t0 = Instant::now();
        let mut s = DtmfSender::default();
        assert!(s.enqueue(&[2], t0));
        assert_eq!(run(&mut s, t0, 145).len(), 8);
        // The end packets are out at 140 ms; the next tone may start at 160 ms.
        let t = t0 + Duration::from_millis(145);
        assert!(s.enqueue(&[3], t));
        assert_eq!(s.next_due(), Some(t0 + Duration::from_millis(160)));
        let next = s.poll(t0 + Duration::from_millis(160)).expect("start");
        assert!(next.first && next.marker);
        s.cancel();
        assert!(!s.sending());
        assert_eq!(s.poll(t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn the_queue_is_bounded() {
        let t0 = Instant::now();
        let mut s = DtmfSender::default();
        let many = vec![1u8; MAX_QUEUED];
        assert!(s.enqueue(&many, t0));
        assert!(!s.enqueue(&[1], t0));
    }
}
