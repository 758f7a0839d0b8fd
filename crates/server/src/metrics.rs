//! The metrics listener (`/metrics`, `/healthz`), the HTTP request metrics middleware, and the
//! feeds from signaling (an [`Observer`]) and the media shards (polled plain counters).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use weft_calls::CallsObserver;
use weft_calls::controller::{CALL_STATES, CallsSnapshot};
use weft_media::{LATENCY_BUCKETS_US, LatencyHistogram, MediaEngine, ShardCounters};
use weft_metrics::{Format, HistogramTotals, MediaTotals, Metrics};
use weft_signaling::observe::{HubSnapshot, Observer};

/// `GET /metrics` and `GET /healthz`, for the metrics listener.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(metrics)
}

/// OpenMetrics for clients that ask for it (Prometheus does), else the classic text format.
async fn render(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    (
        [(header::CONTENT_TYPE, format.content_type())],
        metrics.render(format),
    )
        .into_response()
}

/// Counts each request by route pattern, method and status, and observes its latency.
pub async fn track_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_http(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// How often the media shards' counters are read and published.
const MEDIA_INTERVAL: Duration = Duration::from_secs(1);

/// Signaling's counts, recorded in the registry.
pub struct SignalingMetrics(pub Arc<Metrics>);

impl Observer for SignalingMetrics {
    fn request(&self, method: &'static str, ok: bool) {
        self.0.observe_ws(method, ok);
    }

    fn hub(&self, snapshot: &HubSnapshot) {
        self.0
            .publish_sessions(snapshot.sessions_connected, snapshot.sessions_detached);
    }
}

/// The call controller's counts, recorded in the registry.
pub struct CallMetrics(pub Arc<Metrics>);

impl CallsObserver for CallMetrics {
    fn joined(&self, elapsed: Duration) {
        self.0.observe_join(elapsed);
    }

    fn snapshot(&self, snapshot: &CallsSnapshot) {
        let calls: Vec<(&'static str, usize)> =
            CALL_STATES.into_iter().zip(snapshot.calls).collect();
        self.0.publish_calls(&calls);
    }
}

/// The SWML scripts' counts, recorded in the registry.
pub struct ScriptMetrics(pub Arc<Metrics>);

impl ScriptMetrics {
    /// The observer, with every SWML method and error reason shown at zero.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        metrics.swml_known(weft_swml::validate::CALLING_METHODS);
        Self(metrics)
    }
}

impl weft_scripts::ScriptsObserver for ScriptMetrics {
    fn started(&self) {
        self.0.swml_started();
    }

    fn ended(&self, steps: &std::collections::BTreeMap<String, u32>) {
        self.0
            .swml_ended(steps.iter().map(|(method, n)| (method.as_str(), *n)));
    }

    fn error(&self, reason: &'static str) {
        self.0.swml_error(reason);
    }
}

/// Reads the shards' plain counters every [`MEDIA_INTERVAL`] and publishes their sums, until
/// `shutdown` (the shards never take a lock for metrics).
pub async fn publish_media(
    engine: MediaEngine,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(MEDIA_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match engine.shard_counters().await {
            Ok(shards) => metrics.publish_media(&media_totals(&shards)),
            Err(e) => tracing::debug!(error = %e, "reading media counters failed"),
        }
    }
}

/// The sums of the shards' counters.
fn media_totals(shards: &[ShardCounters]) -> MediaTotals {
    let mut totals = MediaTotals::default();
    let mut latency = LatencyHistogram::default();
    let mut lag = LatencyHistogram::default();
    for s in shards {
        totals.rooms += s.rooms as u64;
        totals.members += s.peers as u64;
        add(&mut totals.received_packets, &s.received);
        add(&mut totals.forwarded_packets, &s.forwarded);
        add(&mut totals.forwarded_bytes, &s.forwarded_bytes);
        add(&mut totals.feedback_in, &s.rtcp_in);
        add(&mut totals.feedback_out, &s.rtcp_out);
        add(&mut totals.relay_messages, &[s.relayed_out, s.relayed_in]);
        add(&mut latency.counts, &s.latency.counts);
        latency.sum_us += s.latency.sum_us;
        add(&mut lag.counts, &s.loop_lag.counts);
        lag.sum_us += s.loop_lag.sum_us;
    }
    totals.forwarding_latency = histogram(&latency);
    totals.loop_lag = histogram(&lag);
    totals
}

fn add<const N: usize>(sum: &mut [u64; N], more: &[u64; N]) {
    for (s, m) in sum.iter_mut().zip(more) {
        *s += m;
    }
}

/// Prometheus buckets (upper bounds in seconds, the open one at +Inf) of a shard histogram.
fn histogram(h: &LatencyHistogram) -> HistogramTotals {
    let buckets = LATENCY_BUCKETS_US
        .iter()
        .zip(h.counts)
        .map(|(&bound, n)| {
            let le = if bound == u64::MAX {
                f64::INFINITY
            } else {
                bound as f64 / 1e6
            };
            (le, n)
        })
        .collect();
    HistogramTotals {
        buckets,
        sum: h.sum_us as f64 / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_counters_are_summed_into_prometheus_buckets() {
        let mut a = ShardCounters {
            rooms: 1,
            peers: 3,
            forwarded: [5, 7],
            rtcp_out: [1, 2, 0],
            relayed_out: 6,
            relayed_in: 2,
            ..ShardCounters::default()
        };
        a.latency.counts[0] = 4;
        a.latency.sum_us = 100;
        let mut b = a.clone();
        b.latency.counts[9] = 1;
        let totals = media_totals(&[a, b]);
        assert_eq!(totals.rooms, 2);
        assert_eq!(totals.members, 6);
        assert_eq!(totals.forwarded_packets, [10, 14]);
        assert_eq!(totals.feedback_out, [2, 4, 0]);
        assert_eq!(totals.relay_messages, [12, 4]);
        let buckets = &totals.forwarding_latency.buckets;
        assert_eq!(buckets[0], (0.00005, 8));
        assert_eq!(buckets[8], (0.02, 0));
        assert_eq!(buckets[9], (f64::INFINITY, 1));
        assert!((totals.forwarding_latency.sum - 0.0002).abs() < 1e-12);
    }
}
