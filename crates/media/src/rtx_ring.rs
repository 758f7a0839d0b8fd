//! A retransmission ring per source: the packets one publisher stream (one simulcast layer)
//! recently forwarded, kept once and shared by every subscriber of that source, so that a NACK
//! can be answered with an RTX resend. Only the headers differ between subscribers; each one maps
//! its NACKed sequence numbers back to the source's with [`StreamRewriter::source_seq`].
//!
//! [`StreamRewriter::source_seq`]: crate::rewrite::StreamRewriter::source_seq

use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::Pt;
use str0m::rtp::VideoOrientation;

use crate::hotpath::Forwarded;

/// What a resend of a forwarded packet needs, as the source sent it. The payload is shared with
/// the forwarded packet, never copied.
#[derive(Debug, Clone)]
pub struct RtxPacket {
    /// Extended sequence number as received.
    pub seq: u64,
    /// RTP timestamp as received.
    pub ts: u32,
    /// Payload type as received.
    pub pt: Pt,
    /// RTP marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: Arc<[u8]>,
    /// RFC 6464 audio level (negative dBov), if present.
    pub audio_level: Option<i8>,
    /// RFC 6464 voice activity flag, if present.
    pub voice_activity: Option<bool>,
    /// Video orientation (CVO), if present.
    pub video_orientation: Option<VideoOrientation>,
    /// When the packet was received.
    pub received: Instant,
    /// Whether the packet starts a keyframe.
    pub keyframe: bool,
    /// Whether the packet is video.
    pub video: bool,
}

impl From<&Forwarded> for RtxPacket {
    /// Takes what a resend needs from a forwarded packet (the payload is shared).
    fn from(f: &Forwarded) -> Self {
        Self {
            seq: f.seq,
            ts: f.ts,
            pt: f.pt,
            marker: f.marker,
            payload: f.payload.clone(),
            audio_level: f.audio_level,
            voice_activity: f.voice_activity,
            video_orientation: f.video_orientation,
            received: f.received,
            keyframe: f.keyframe,
            video: f.video,
        }
    }
}

/// A fixed-capacity ring of one source's recently forwarded packets, keyed by the source's
/// extended sequence number. The window is the `capacity` sequence numbers up to the newest one
/// pushed; anything older is gone. Insert and lookup are O(1); it allocates only in [`new`].
///
/// [`new`]: RtxRing::new
#[derive(Debug)]
pub struct RtxRing {
    slots: Box<[Option<RtxPacket>]>,
    mask: u64,
    newest: Option<u64>,
}

impl RtxRing {
    /// An empty ring holding `capacity` packets, rounded up to a power of two (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1).next_power_of_two();
        Self {
            slots: (0..capacity).map(|_| None).collect(),
            mask: capacity as u64 - 1,
            newest: None,
        }
    }

    /// How many packets the ring holds at most (a power of two).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Keeps `packet` for resends, replacing the packet `capacity` sequence numbers older (or an
    /// earlier copy of the same one). Packets may arrive out of order; one already older than the
    /// window is not kept.
    pub fn push(&mut self, packet: RtxPacket) {
        let seq = packet.seq;
        if let Some(newest) = self.newest {
            if !self.in_window(seq, newest) {
                return;
            }
            self.newest = Some(newest.max(seq));
        } else {
            self.newest = Some(seq);
        }
        self.slots[self.index(seq)] = Some(packet);
    }

    /// Keeps a forwarded packet for resends (see [`push`](RtxRing::push)).
    pub fn push_forwarded(&mut self, packet: &Forwarded) {
        self.push(RtxPacket::from(packet));
    }

    /// The packet of extended sequence number `seq`, if it is within the window and was kept.
    pub fn get(&self, seq: u64) -> Option<&RtxPacket> {
        let newest = self.newest?;
        if seq > newest || !self.in_window(seq, newest) {
            return None;
        }
        self.slots[self.index(seq)]
            .as_ref()
            .filter(|p| p.seq == seq)
    }

    /// Like [`get`](RtxRing::get), but only a packet received at most `max_age` before `now`:
    /// an older one is not worth resending.
    pub fn get_recent(&self, seq: u64, now: Instant, max_age: Duration) -> Option<&RtxPacket> {
        self.get(seq)
            .filter(|p| now.saturating_duration_since(p.received) <= max_age)
    }

    /// Whether `seq` is one of the `capacity` sequence numbers up to `newest`, or after it.
    fn in_window(&self, seq: u64, newest: u64) -> bool {
        seq.saturating_add(self.slots.len() as u64) > newest
    }

    fn index(&self, seq: u64) -> usize {
        (seq & self.mask) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::format::{Codec, CodecSpec, FormatParams};
    use str0m::media::Frequency;

    fn packet(seq: u64, received: Instant) -> RtxPacket {
        RtxPacket {
            seq,
            ts: 1_000 + seq as u32 * 3_000,
            pt: Pt::new_with_value(96),
            marker: seq.is_multiple_of(3),
            payload: Arc::from(&seq.to_be_bytes()[..]),
            audio_level: None,
            voice_activity: None,
            video_orientation: None,
            received,
            keyframe: false,
            video: true,
        }
    }

    /// Pushes `seqs` in order, all received at `now`.
    fn ring_with(capacity: usize, seqs: impl IntoIterator<Item = u64>, now: Instant) -> RtxRing {
        let mut ring = RtxRing::new(capacity);
        for seq in seqs {
            ring.push(packet(seq, now));
        }
        ring
    }

    fn kept(ring: &RtxRing, seqs: impl IntoIterator<Item = u64>) -> Vec<u64> {
        seqs.into_iter()
            .filter(|&s| ring.get(s).is_some())
            .collect()
    }

    #[test]
    fn capacity_is_a_power_of_two() {
        assert_eq!(RtxRing::new(512).capacity(), 512);
        assert_eq!(RtxRing::new(500).capacity(), 512);
        assert_eq!(RtxRing::new(1).capacity(), 1);
        assert_eq!(RtxRing::new(0).capacity(), 1);
    }

    #[test]
    fn an_empty_ring_has_nothing() {
        let ring = RtxRing::new(8);
        assert!(ring.get(0).is_none());
        assert!(ring.get(12_345).is_none());
    }

    #[test]
    fn pushed_packets_come_back_with_their_fields() {
        let now = Instant::now();
        let ring = ring_with(8, 100..105, now);
        for seq in 100..105 {
            let p = ring.get(seq).unwrap();
            let want = packet(seq, now);
            assert_eq!(p.seq, seq);
            assert_eq!((p.ts, p.pt, p.marker), (want.ts, want.pt, want.marker));
            assert_eq!(&p.payload[..], &want.payload[..]);
        }
        assert_eq!(kept(&ring, 90..120), (100..105).collect::<Vec<_>>());
    }

    #[test]
    fn the_payload_is_shared_not_copied_and_released_on_replacement() {
        let now = Instant::now();
        let payload: Arc<[u8]> = Arc::from(&[7u8; 1200][..]);
        let mut ring = RtxRing::new(4);
        ring.push(RtxPacket {
            payload: payload.clone(),
            ..packet(0, now)
        });
        assert!(Arc::ptr_eq(&ring.get(0).unwrap().payload, &payload));
        assert_eq!(Arc::strong_count(&payload), 2);
        ring.push(packet(4, now));
        assert!(ring.get(0).is_none());
        assert_eq!(Arc::strong_count(&payload), 1);
    }

    #[test]
    fn a_forwarded_packet_is_kept_with_what_a_resend_needs() {
        let now = Instant::now();
        let payload: Arc<[u8]> = Arc::from(&[0x10u8, 0, 0x9d, 0x01, 0x2a][..]);
        let forwarded = Forwarded {
            seq: 70_000,
            ts: 90_000,
            pt: Pt::new_with_value(96),
            marker: true,
            payload: payload.clone(),
            audio_level: None,
            voice_activity: None,
            video_orientation: Some(VideoOrientation::Deg90),
            received: now,
            rid: None,
            spec: CodecSpec {
                codec: Codec::Vp8,
                clock_rate: Frequency::NINETY_KHZ,
                channels: None,
                format: FormatParams::default(),
            },
            keyframe: true,
            video: true,
            red: None,
        };
        let mut ring = RtxRing::new(16);
        ring.push_forwarded(&forwarded);
        let p = ring.get(70_000).unwrap();
        assert_eq!(
            (p.seq, p.ts, p.pt, p.marker),
            (70_000, 90_000, forwarded.pt, true)
        );
        assert_eq!(p.video_orientation, Some(VideoOrientation::Deg90));
        assert_eq!((p.keyframe, p.video, p.received), (true, true, now));
        assert!(Arc::ptr_eq(&p.payload, &payload));
    }

    #[test]
    fn the_ring_wraps_and_keeps_the_last_capacity_packets() {
        let now = Instant::now();
        let ring = ring_with(8, 0..21, now);
        assert_eq!(kept(&ring, 0..40), (13..21).collect::<Vec<_>>());
        // Across the 16-bit boundary of the publisher's sequence numbers (extended, so no wrap).
        let ring = ring_with(8, 65_530..65_545, now);
        assert_eq!(
            kept(&ring, 65_500..65_600),
            (65_537..65_545).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_newer_packet_replaces_the_one_a_capacity_older() {
        let now = Instant::now();
        let mut ring = ring_with(8, [3], now);
        ring.push(packet(11, now));
        assert!(ring.get(3).is_none());
        assert_eq!(ring.get(11).unwrap().seq, 11);
        // A second copy of the same number replaces the first.
        ring.push(RtxPacket {
            ts: 42,
            ..packet(11, now)
        });
        assert_eq!(ring.get(11).unwrap().ts, 42);
    }

    #[test]
    fn out_of_order_packets_within_the_window_are_kept() {
        let now = Instant::now();
        let ring = ring_with(8, [10, 8, 9, 5, 7, 6, 3], now);
        assert_eq!(kept(&ring, 0..20), vec![3, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn a_packet_older_than_the_window_is_not_kept_and_evicts_nothing() {
        let now = Instant::now();
        let mut ring = ring_with(8, [10], now);
        // 2 ≡ 10 (mod 8), and 2 is older than the window 3..=10.
        ring.push(packet(2, now));
        assert!(ring.get(2).is_none());
        assert_eq!(ring.get(10).unwrap().seq, 10);
        ring.push(packet(3, now));
        assert_eq!(ring.get(3).unwrap().seq, 3);
    }

    #[test]
    fn a_packet_the_window_passed_over_is_gone_even_if_its_slot_was_not_reused() {
        let now = Instant::now();
        // After a gap, slot 0 still holds seq 0, but the window is now 93..=100.
        let ring = ring_with(8, [0, 1, 100], now);
        assert_eq!(kept(&ring, 0..120), vec![100]);
    }

    #[test]
    fn numbers_after_the_newest_are_misses() {
        let now = Instant::now();
        let ring = ring_with(8, 0..8, now);
        assert!(ring.get(8).is_none());
        assert!(ring.get(16).is_none());
        assert!(ring.get(u64::MAX).is_none());
    }

    #[test]
    fn old_packets_are_not_worth_resending() {
        let t0 = Instant::now();
        let mut ring = RtxRing::new(8);
        ring.push(packet(1, t0));
        ring.push(packet(2, t0 + Duration::from_millis(600)));
        let max_age = Duration::from_secs(1);
        let now = t0 + Duration::from_millis(1_200);
        assert!(ring.get_recent(1, now, max_age).is_none());
        assert_eq!(ring.get_recent(2, now, max_age).unwrap().seq, 2);
        assert!(ring.get_recent(1, t0 + max_age, max_age).is_some());
        // A clock that went backwards counts as age zero.
        assert!(ring.get_recent(2, t0, max_age).is_some());
    }
}
