//! Receive-side accounting of one RTP stream (loss, RFC 3550 jitter, freezes) and summary
//! statistics (percentiles) over many values.

use std::time::{Duration, Instant};

use serde::Serialize;

/// A gap between two packets of a video stream longer than this is a freeze.
pub const FREEZE_GAP: Duration = Duration::from_millis(500);

/// What one received stream (one m-line of a subscriber) saw.
#[derive(Debug, Clone)]
pub struct StreamStats {
    /// Video (else audio).
    pub video: bool,
    clock_rate: f64,
    /// Packets received (retransmissions included).
    pub packets: u64,
    /// Payload bytes received.
    pub bytes: u64,
    base_seq: u64,
    max_seq: u64,
    /// Arrival of the first and the latest packet.
    pub first_at: Option<Instant>,
    /// Arrival of the latest packet.
    pub last_at: Option<Instant>,
    /// RFC 3550 interarrival jitter, in RTP timestamp units.
    jitter: f64,
    last_transit: Option<f64>,
    /// Gaps longer than [`FREEZE_GAP`] (video only).
    pub freezes: u64,
    /// Total length of those gaps.
    pub freeze_time: Duration,
    /// The sender tags (publishers) seen on this stream.
    pub origins: Vec<u32>,
}

/// How the network-wide counters change after one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    /// Change of the number of packets the sender sent (by sequence number).
    pub expected: u64,
}

impl StreamStats {
    /// A stream with the RTP clock of its kind (90 kHz video, 48 kHz Opus).
    pub fn new(video: bool) -> Self {
        Self {
            video,
            clock_rate: if video { 90_000.0 } else { 48_000.0 },
            packets: 0,
            bytes: 0,
            base_seq: 0,
            max_seq: 0,
            first_at: None,
            last_at: None,
            jitter: 0.0,
            last_transit: None,
            freezes: 0,
            freeze_time: Duration::ZERO,
            origins: Vec::new(),
        }
    }

    /// Records a packet: extended sequence number, RTP timestamp, payload size, arrival time.
    pub fn record(&mut self, seq: u64, rtp_ts: u32, size: usize, now: Instant) -> Delta {
        let mut delta = Delta::default();
        match self.first_at {
            None => {
                self.first_at = Some(now);
                self.base_seq = seq;
                self.max_seq = seq;
                delta.expected = 1;
            }
            Some(first) => {
                if seq > self.max_seq {
                    delta.expected = seq - self.max_seq;
                    self.max_seq = seq;
                } else if seq < self.base_seq {
                    delta.expected = self.base_seq - seq;
                    self.base_seq = seq;
                }
                if let Some(last) = self.last_at
                    && self.video
                {
                    let gap = now.saturating_duration_since(last);
                    if gap > FREEZE_GAP {
                        self.freezes += 1;
                        self.freeze_time += gap;
                    }
                }
                // RFC 3550 A.8: transit time in timestamp units (wrapping timestamps fold in f64).
                let arrival = now.saturating_duration_since(first).as_secs_f64() * self.clock_rate;
                let transit = arrival - f64::from(rtp_ts);
                if let Some(prev) = self.last_transit {
                    let mut d = (transit - prev).abs();
                    if d > f64::from(u32::MAX) / 2.0 {
                        d = (d - f64::from(u32::MAX) - 1.0).abs();
                    }
                    self.jitter += (d - self.jitter) / 16.0;
                }
                self.last_transit = Some(transit);
            }
        }
        if self.last_transit.is_none() {
            self.last_transit = Some(-f64::from(rtp_ts));
        }
        self.packets += 1;
        self.bytes += size as u64;
        self.last_at = Some(now);
        delta
    }

    /// Packets the sender sent between the first and the latest sequence number.
    pub fn expected(&self) -> u64 {
        if self.first_at.is_none() {
            0
        } else {
            self.max_seq - self.base_seq + 1
        }
    }

    /// Packets never received (duplicates do not make it negative).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.packets)
    }

    /// Jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter / self.clock_rate * 1000.0
    }

    /// Average payload bitrate between the first and latest packet (bit/s).
    pub fn bitrate(&self) -> f64 {
        match (self.first_at, self.last_at) {
            (Some(a), Some(b)) if b > a => self.bytes as f64 * 8.0 / (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Notes the sender tag of a packet.
    pub fn note_origin(&mut self, tag: u32) {
        if !self.origins.contains(&tag) {
            self.origins.push(tag);
        }
    }
}

/// Count, mean and percentiles of a set of values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Smallest value.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values` (NaNs are ignored); all zeros when empty.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        Self {
            count: v.len(),
            min: v[0],
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: percentile(&v, 50.0),
            p95: percentile(&v, 95.0),
            p99: percentile(&v, 99.0),
            max: v[v.len() - 1],
        }
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted, non-empty `sorted`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&v);
        assert_eq!(
            (s.count, s.min, s.p50, s.p95, s.p99, s.max),
            (100, 1.0, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(s.mean, 50.5);
        let s = Summary::of(&[3.0, 1.0, 2.0, f64::NAN]);
        assert_eq!((s.count, s.p50, s.p99), (3, 2.0, 3.0));
        assert_eq!(Summary::of(&[]), Summary::default());
        assert_eq!(Summary::of(&[7.0]).p95, 7.0);
    }

    #[test]
    fn loss_counts_gaps_and_late_packets() {
        let t0 = Instant::now();
        let mut s = StreamStats::new(false);
        let mut expected = 0;
        for (i, seq) in [10u64, 11, 12, 15, 16, 14, 9].into_iter().enumerate() {
            expected += s
                .record(
                    seq,
                    960 * seq as u32,
                    80,
                    t0 + Duration::from_millis(20 * i as u64),
                )
                .expected;
        }
        assert_eq!(s.expected(), 8); // 9..=16
        assert_eq!(expected, 8);
        assert_eq!(s.packets, 7);
        assert_eq!(s.lost(), 1); // 13
        // A duplicate does not make loss negative.
        s.record(16, 0, 80, t0 + Duration::from_secs(1));
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn steady_stream_has_no_jitter_and_a_bitrate() {
        let t0 = Instant::now();
        let mut s = StreamStats::new(false);
        for i in 0..50u32 {
            s.record(
                u64::from(i),
                960 * i,
                100,
                t0 + Duration::from_millis(20 * u64::from(i)),
            );
        }
        assert!(s.jitter_ms() < 0.01, "{}", s.jitter_ms());
        // 50 × 100 bytes over 0.98 s.
        assert!((s.bitrate() - 5000.0 * 8.0 / 0.98).abs() < 1.0);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let t0 = Instant::now();
        let mut s = StreamStats::new(true);
        // 33 ms frames, every other one 10 ms late: |D| = 10 ms = 900 units each step.
        for i in 0..400u32 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            s.record(
                u64::from(i),
                2970 * i,
                900,
                t0 + Duration::from_millis(33 * u64::from(i) + late),
            );
        }
        assert!((s.jitter_ms() - 10.0).abs() < 0.5, "{}", s.jitter_ms());
    }

    #[test]
    fn video_gaps_over_half_a_second_are_freezes() {
        let t0 = Instant::now();
        let mut v = StreamStats::new(true);
        let mut a = StreamStats::new(false);
        for (i, ms) in [0u64, 33, 66, 700, 733, 1500].into_iter().enumerate() {
            v.record(i as u64, 0, 900, t0 + Duration::from_millis(ms));
            a.record(i as u64, 0, 80, t0 + Duration::from_millis(ms));
        }
        assert_eq!(v.freezes, 2);
        assert_eq!(v.freeze_time, Duration::from_millis(634 + 767));
        assert_eq!(a.freezes, 0);
        v.note_origin(7);
        v.note_origin(7);
        assert_eq!(v.origins, vec![7]);
    }
}
