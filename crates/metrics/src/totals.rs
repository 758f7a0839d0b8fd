//! A histogram whose buckets are set from totals counted elsewhere (the media shards count in
//! plain integers; the server publishes their sums here).

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Bucket counts and the sum of a histogram counted elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramTotals {
    /// `(upper bound in seconds, samples in this bucket)`, ascending; the last bound is
    /// `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all samples, in seconds.
    pub sum: f64,
}

impl Default for HistogramTotals {
    fn default() -> Self {
        Self {
            buckets: vec![(f64::INFINITY, 0)],
            sum: 0.0,
        }
    }
}

/// A histogram metric showing the last published [`HistogramTotals`]; clones share them.
#[derive(Debug, Clone, Default)]
pub struct TotalsHistogram {
    totals: Arc<Mutex<HistogramTotals>>,
}

impl TotalsHistogram {
    /// Replaces the shown totals.
    pub fn set(&self, totals: HistogramTotals) {
        if let Ok(mut shown) = self.totals.lock() {
            *shown = totals;
        }
    }
}

impl EncodeMetric for TotalsHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let totals = self.totals.lock().map_err(|_| std::fmt::Error)?.clone();
        let count = totals.buckets.iter().map(|(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(totals.sum, count, &totals.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
