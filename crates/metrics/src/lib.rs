//! Weft's Prometheus metrics.
//!
//! One [`Metrics`] value holds every series; components get it by `Arc` and update it on their
//! control paths (HTTP requests, signaling requests). The media hot path never touches it: shards
//! count in plain integers and publish totals here periodically. Every series is documented in the
//! README ("Metrics"); [`Metrics::render`] produces the text exposition format.

mod process;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of an HTTP request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route pattern (`/api/fabric/resources/{id}`), never the raw path.
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// Labels of an HTTP latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// Labels of a signaling request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WsLabels {
    /// The JSON-RPC method (or `verto.<method>` inside `webrtc.verto`).
    pub method: String,
    /// `ok` or `error`.
    pub result: String,
}

/// Every series Weft exports.
pub struct Metrics {
    registry: Registry,
    /// `weft_http_requests_total{route,method,status}`.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `weft_http_request_duration_seconds{route}`.
    pub http_duration: Family<RouteLabels, Histogram>,
    /// `weft_ws_requests_total{method,result}`.
    pub ws_requests: Family<WsLabels, Counter>,
    /// `weft_signaling_sessions`: connected signaling sessions.
    pub signaling_sessions: Gauge,
    process: process::ProcessMetrics,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ]
    .into_iter()
}

impl Metrics {
    /// A registry with every series registered and at zero.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "weft_http_requests",
            "REST and OAuth requests by route pattern, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "weft_http_request_duration_seconds",
            "REST and OAuth request latency by route pattern",
            http_duration.clone(),
        );
        let ws_requests = Family::<WsLabels, Counter>::default();
        registry.register(
            "weft_ws_requests",
            "Signaling (JSON-RPC over WebSocket) requests by method and result",
            ws_requests.clone(),
        );
        let signaling_sessions = Gauge::default();
        registry.register(
            "weft_signaling_sessions",
            "Signaling WebSocket sessions currently connected",
            signaling_sessions.clone(),
        );
        let process = process::ProcessMetrics::register(&mut registry);
        Arc::new(Metrics {
            registry,
            http_requests,
            http_duration,
            ws_requests,
            signaling_sessions,
            process,
        })
    }

    /// Records one finished HTTP request.
    pub fn observe_http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition of every series (process metrics read now).
    pub fn render(&self) -> String {
        self.process.refresh();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registered_series() {
        let m = Metrics::new();
        m.observe_http(
            "/api/fabric/resources",
            "GET",
            200,
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(text.contains(
            "weft_http_requests_total{route=\"/api/fabric/resources\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains("weft_http_request_duration_seconds_bucket"));
        assert!(text.contains("process_resident_memory_bytes"));
        assert!(text.ends_with("# EOF\n"));
    }
}
