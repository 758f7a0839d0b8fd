//! Taps: a copy of the audio a member sends (for recording), through a bounded channel the shard
//! never waits on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::options::RtpCodec;

/// Packets a tap holds before the shard drops (and counts) further ones: about five seconds of
/// 20 ms audio.
pub const TAP_QUEUE: usize = 256;

/// One audio packet a tapped member sent, as it arrived (decrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapPacket {
    /// The RTP payload, shared with the forwarding path (not copied).
    pub payload: Arc<[u8]>,
    /// The extended (64-bit, rollover-free) RTP sequence number.
    pub sequence: u64,
    /// The RTP timestamp, in the codec's clock.
    pub timestamp: u32,
    /// The payload's codec.
    pub codec: RtpCodec,
}

/// The receiving end of a tap (see [`crate::MediaEngine::tap`]). Dropping it ends the tap.
pub struct AudioTap {
    packets: mpsc::Receiver<TapPacket>,
    dropped: Arc<AtomicU64>,
}

impl AudioTap {
    /// The next packet the member sent; `None` once the member is gone or the tap was replaced
    /// by another [`crate::MediaEngine::tap`] of the member.
    pub async fn recv(&mut self) -> Option<TapPacket> {
        self.packets.recv().await
    }

    /// Packets the shard dropped because this tap was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A new tap: the shard's end and the reader's.
pub(crate) fn tap() -> (TapSender, AudioTap) {
    let (sender, packets) = mpsc::channel(TAP_QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        TapSender {
            sender,
            dropped: dropped.clone(),
        },
        AudioTap { packets, dropped },
    )
}

/// The shard's end of a tap.
pub(crate) struct TapSender {
    sender: mpsc::Sender<TapPacket>,
    dropped: Arc<AtomicU64>,
}

/// What offering a packet to a tap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tapped {
    /// Queued for the reader.
    Queued,
    /// The tap was full: the packet was dropped and counted.
    Dropped,
    /// The reader is gone: the tap is over.
    Closed,
}

impl TapSender {
    /// Offers a packet without waiting.
    pub(crate) fn offer(&self, packet: TapPacket) -> Tapped {
        match self.sender.try_send(packet) {
            Ok(()) => Tapped::Queued,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Tapped::Dropped
            }
            Err(TrySendError::Closed(_)) => Tapped::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sequence: u64) -> TapPacket {
        TapPacket {
            payload: Arc::from(&[1u8, 2, 3][..]),
            sequence,
            timestamp: sequence as u32 * 160,
            codec: RtpCodec::Pcmu,
        }
    }

    #[test]
    fn a_full_tap_drops_and_counts_and_a_dropped_reader_closes_it() {
        let (sender, mut reader) = tap();
        for n in 0..TAP_QUEUE as u64 {
            assert_eq!(sender.offer(packet(n)), Tapped::Queued);
        }
        assert_eq!(sender.offer(packet(999)), Tapped::Dropped);
        assert_eq!(sender.offer(packet(1000)), Tapped::Dropped);
        assert_eq!(reader.dropped(), 2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let first = rt.block_on(reader.recv()).expect("a packet");
        assert_eq!(first.sequence, 0);
        assert_eq!(sender.offer(packet(1001)), Tapped::Queued);
        drop(reader);
        assert_eq!(sender.offer(packet(1002)), Tapped::Closed);
    }
}
