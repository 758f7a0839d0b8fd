//! The media engine's series, set from the totals the server sums over the shards.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::totals::{HistogramTotals, TotalsHistogram};

/// The media kinds, in the order of the per-kind arrays of [`MediaTotals`].
pub const KINDS: [&str; 2] = ["audio", "video"];
/// The RTCP feedback types, in the order of the feedback arrays of [`MediaTotals`].
pub const FEEDBACK: [&str; 3] = ["nack", "pli", "fir"];

/// Totals of the media engine (summed over its shards since it started).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaTotals {
    /// Rooms now.
    pub rooms: u64,
    /// Members (WebRTC peers and RTP legs) now.
    pub members: u64,
    /// RTP packets received from publishers, per kind ([`KINDS`]).
    pub received_packets: [u64; 2],
    /// RTP packets forwarded to subscribers, per kind.
    pub forwarded_packets: [u64; 2],
    /// RTP payload bytes forwarded to subscribers, per kind.
    pub forwarded_bytes: [u64; 2],
    /// Feedback received from members, per type ([`FEEDBACK`]).
    pub feedback_in: [u64; 3],
    /// Feedback sent to members (publishers), per type.
    pub feedback_out: [u64; 3],
    /// Messages between shards of rooms that span shards: sent, received.
    pub relay_messages: [u64; 2],
    /// From reading a group of datagrams to having sent all they caused.
    pub forwarding_latency: HistogramTotals,
    /// How late shard loops ran their timers.
    pub loop_lag: HistogramTotals,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedbackLabels {
    r#type: &'static str,
    direction: &'static str,
}

/// The registered media series.
pub(crate) struct MediaSeries {
    rooms: Gauge,
    members: Gauge,
    received_packets: Family<KindLabels, Counter>,
    forwarded_packets: Family<KindLabels, Counter>,
    forwarded_bytes: Family<KindLabels, Counter>,
    feedback: Family<FeedbackLabels, Counter>,
    relay_messages: Family<DirectionLabels, Counter>,
    forwarding_latency: TotalsHistogram,
    loop_lag: TotalsHistogram,
}

/// Sets a counter to a total counted elsewhere (totals only grow while the engine runs).
fn set_total(counter: &Counter, total: u64) {
    counter.inner().store(total, Ordering::Relaxed);
}

impl MediaSeries {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let series = Self {
            rooms: Gauge::default(),
            members: Gauge::default(),
            received_packets: Family::default(),
            forwarded_packets: Family::default(),
            forwarded_bytes: Family::default(),
            feedback: Family::default(),
            relay_messages: Family::default(),
            forwarding_latency: TotalsHistogram::default(),
            loop_lag: TotalsHistogram::default(),
        };
        let r = registry;
        r.register("weft_rooms", "Media rooms", series.rooms.clone());
        r.register(
            "weft_members",
            "Room members (WebRTC peers and RTP legs)",
            series.members.clone(),
        );
        r.register(
            "weft_received_packets",
            "RTP packets received from publishers, by media kind",
            series.received_packets.clone(),
        );
        r.register(
            "weft_forwarded_packets",
            "RTP packets forwarded to subscribers, by media kind",
            series.forwarded_packets.clone(),
        );
        r.register(
            "weft_forwarded_bytes",
            "RTP payload bytes forwarded to subscribers, by media kind",
            series.forwarded_bytes.clone(),
        );
        r.register(
            "weft_rtcp_feedback",
            "RTCP feedback (nack, pli, fir) received from members (in) and sent to them (out)",
            series.feedback.clone(),
        );
        r.register(
            "weft_shard_relay_messages",
            "Messages between media shards for rooms that span shards: out (sent) and in (received)",
            series.relay_messages.clone(),
        );
        r.register(
            "weft_forwarding_latency_seconds",
            "Time from reading a group of datagrams to having sent everything they caused",
            series.forwarding_latency.clone(),
        );
        r.register(
            "weft_shard_loop_lag_seconds",
            "How late media shard loops ran their timers",
            series.loop_lag.clone(),
        );
        // Every label value is present from the start, at zero.
        series.publish(&MediaTotals::default());
        series
    }

    pub(crate) fn publish(&self, totals: &MediaTotals) {
        self.rooms.set(totals.rooms as i64);
        self.members.set(totals.members as i64);
        for (i, kind) in KINDS.into_iter().enumerate() {
            let labels = KindLabels { kind };
            set_total(
                &self.received_packets.get_or_create(&labels),
                totals.received_packets[i],
            );
            set_total(
                &self.forwarded_packets.get_or_create(&labels),
                totals.forwarded_packets[i],
            );
            set_total(
                &self.forwarded_bytes.get_or_create(&labels),
                totals.forwarded_bytes[i],
            );
        }
        for (i, r#type) in FEEDBACK.into_iter().enumerate() {
            for (direction, total) in [
                ("in", totals.feedback_in[i]),
                ("out", totals.feedback_out[i]),
            ] {
                let labels = FeedbackLabels { r#type, direction };
                set_total(&self.feedback.get_or_create(&labels), total);
            }
        }
        for (direction, total) in [
            ("out", totals.relay_messages[0]),
            ("in", totals.relay_messages[1]),
        ] {
            set_total(
                &self
                    .relay_messages
                    .get_or_create(&DirectionLabels { direction }),
                total,
            );
        }
        self.forwarding_latency
            .set(totals.forwarding_latency.clone());
        self.loop_lag.set(totals.loop_lag.clone());
    }
}
