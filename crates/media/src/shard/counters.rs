//! What a shard counts: datagrams, forwarded packets, feedback, wake-ups, latency.

use std::time::Duration;

use super::wakeups::WakeupReasons;
use crate::options::MediaKind;

/// Counters of one shard, reported by [`crate::MediaEngine::shard_counters`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardCounters {
    /// Live peers.
    pub peers: usize,
    /// Live rooms.
    pub rooms: usize,
    /// Address and ufrag entries in the demultiplexer.
    pub demux_entries: usize,
    /// Open ICE-TCP connections.
    pub tcp_connections: usize,
    /// Datagrams read from the socket.
    pub datagrams_in: u64,
    /// Datagrams that matched no peer.
    pub datagrams_unmatched: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Failed sends.
    pub send_errors: u64,
    /// Datagrams plain-RTP legs dropped because they came from another address than the leg's
    /// source (after it locked, or after its learning window).
    pub leg_foreign_dropped: u64,
    /// Datagrams SRTP plain-RTP legs dropped because they did not unprotect: failed
    /// authentication (sent in the clear or with another key), replayed, or malformed.
    pub leg_srtp_failed: u64,
    /// Send system calls (`sendmmsg`, or `sendto` for a lone datagram): far fewer than
    /// `datagrams_out`, since one call carries a pass's runs to every destination and GSO joins a
    /// run to one destination.
    pub send_calls: u64,
    /// Packets Weft sealed itself (owned egress), forwarded and mixed.
    pub sealed: u64,
    /// Packets resent on Weft-owned egress after a NACK.
    pub retransmitted: u64,
    /// Timer wake-ups of peers (str0m asked to be driven at a time, with no input).
    pub timer_ticks: u64,
    /// The same wake-ups by the reason str0m gave for them.
    pub wakeups: WakeupReasons,
    /// Publisher RTP packets received.
    pub rtp_in: u64,
    /// Subscriber RTP packets written (forwarded).
    pub rtp_forwarded: u64,
    /// Publisher RTP packets fanned out, per kind (audio, video).
    pub received: [u64; 2],
    /// Subscriber RTP packets written, per kind (audio, video).
    pub forwarded: [u64; 2],
    /// Payload bytes of the subscriber RTP packets written, per kind (audio, video).
    pub forwarded_bytes: [u64; 2],
    /// RTCP feedback received from members: NACK, PLI, FIR (from str0m's stats, every 5 s).
    pub rtcp_in: [u64; 3],
    /// RTCP feedback sent to members: NACK, PLI, FIR.
    pub rtcp_out: [u64; 3],
    /// Frames of source members written to listeners.
    pub source_frames: u64,
    /// Frames of source members not written to a listener that does not take the source's
    /// codec (sources are not transcoded).
    pub source_codec_skipped: u64,
    /// Peers closed because str0m panicked.
    pub panics: u64,
    /// Members of spanning rooms that other shards own (known here as remote members).
    pub remote_members: usize,
    /// Sources (published streams) in this shard's rooms, remote members' included.
    pub sources: usize,
    /// Messages sent to other shards of spanning rooms.
    pub relayed_out: u64,
    /// Batches that carried them (one per destination shard and pass).
    pub relay_batches: u64,
    /// Messages received from other shards.
    pub relayed_in: u64,
    /// Time from reading a group of datagrams to having sent everything they caused (for packets
    /// relayed from another shard: from their arrival there).
    pub latency: LatencyHistogram,
    /// How late the shard loop ran its due timers.
    pub loop_lag: LatencyHistogram,
}

impl ShardCounters {
    /// Counts one packet of `len` payload bytes written to a subscriber, of kind index `k`.
    pub(super) fn count_forwarded(&mut self, k: usize, len: usize) {
        self.rtp_forwarded += 1;
        self.forwarded[k] += 1;
        self.forwarded_bytes[k] += len as u64;
    }

    /// Index of `kind` in the per-kind arrays.
    pub(super) fn kind_index(kind: MediaKind) -> usize {
        match kind {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        }
    }
}

/// Upper bounds of the latency buckets, in microseconds (the last bucket is open).
pub const LATENCY_BUCKETS_US: [u64; 10] = [
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    u64::MAX,
];

/// A fixed-bucket latency histogram (no allocation when recording).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Counts per bucket of [`LATENCY_BUCKETS_US`].
    pub counts: [u64; 10],
    /// Sum of all samples, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    pub(super) fn record(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = LATENCY_BUCKETS_US.iter().position(|b| us < *b).unwrap_or(9);
        self.counts[i] += 1;
        self.sum_us += us;
    }

    /// The bucket bound below which a fraction `q` of the samples fall (`u64::MAX`: above 20 ms).
    pub fn quantile_us(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return LATENCY_BUCKETS_US[i];
            }
        }
        LATENCY_BUCKETS_US[9]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_run_from_50_us_to_20_ms_and_keep_a_sum() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_micros(30));
        h.record(Duration::from_micros(15_000));
        h.record(Duration::from_millis(25));
        assert_eq!(h.counts, [1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(h.sum_us, 30 + 15_000 + 25_000);
        assert_eq!(h.quantile_us(0.3), 50);
        assert_eq!(h.quantile_us(0.5), 20_000);
    }
}
