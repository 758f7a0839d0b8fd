//! Weft's Prometheus metrics.
//!
//! One [`Metrics`] value holds every series; components get it by `Arc` and update it on their
//! control paths (HTTP requests, signaling requests). The media hot path never touches it: shards
//! count in plain integers and publish totals here periodically. Every series is documented in the
//! README ("Metrics"); [`Metrics::render`] produces the text exposition format.

mod media;
mod process;
mod sip;
mod swml;
mod totals;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use media::{FEEDBACK, KINDS, MediaTotals};
pub use sip::SipLabels;
pub use swml::SWML_ERROR_REASONS;
pub use totals::HistogramTotals;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text, what Prometheus asks for.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4, for clients that do not ask for OpenMetrics.
    PrometheusText,
}

impl Format {
    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// OpenMetrics if the `Accept` header asks for it, else the Prometheus text format.
    pub fn negotiate(accept: Option<&str>) -> Self {
        if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

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
    /// The JSON-RPC method (or `verto.<method>` inside `webrtc.verto`), from a fixed set.
    pub method: &'static str,
    /// `ok` or `error`.
    pub result: &'static str,
}

/// Labels of a series by state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
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
    /// `weft_signaling_sessions{state}`: signaling sessions, `connected` or `detached`.
    pub signaling_sessions: Family<StateLabels, Gauge>,
    /// `weft_calls{state}`: call legs (browser and SIP) by state.
    pub calls: Family<StateLabels, Gauge>,
    /// `weft_join_duration_seconds`: from dialling (`verto.invite`, SIP `INVITE`) to joined, for
    /// room joins.
    pub join_duration: Histogram,
    media: media::MediaSeries,
    sip: sip::SipSeries,
    swml: swml::SwmlSeries,
    process: process::ProcessMetrics,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ]
    .into_iter()
}

fn join_buckets() -> impl Iterator<Item = f64> {
    [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
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
        let signaling_sessions = Family::<StateLabels, Gauge>::default();
        registry.register(
            "weft_signaling_sessions",
            "Signaling sessions: connected, or detached and waiting for a resume",
            signaling_sessions.clone(),
        );
        let calls = Family::<StateLabels, Gauge>::default();
        registry.register(
            "weft_calls",
            "Call legs (browser and SIP) by state",
            calls.clone(),
        );
        let join_duration = Histogram::new(join_buckets());
        registry.register(
            "weft_join_duration_seconds",
            "Time from dialling (verto.invite, SIP INVITE) to joined, for room joins",
            join_duration.clone(),
        );
        let media = media::MediaSeries::register(&mut registry);
        let sip = sip::SipSeries::register(&mut registry);
        let swml = swml::SwmlSeries::register(&mut registry);
        let process = process::ProcessMetrics::register(&mut registry);
        let metrics = Metrics {
            registry,
            http_requests,
            http_duration,
            ws_requests,
            signaling_sessions,
            calls,
            join_duration,
            media,
            sip,
            swml,
            process,
        };
        metrics.publish_sessions(0, 0);
        metrics.publish_sip(0, &[("early", 0), ("active", 0)]);
        Arc::new(metrics)
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

    /// Records one answered signaling request.
    pub fn observe_ws(&self, method: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.ws_requests
            .get_or_create(&WsLabels { method, result })
            .inc();
    }

    /// Records one room join.
    pub fn observe_join(&self, elapsed: Duration) {
        self.join_duration.observe(elapsed.as_secs_f64());
    }

    /// Publishes the signaling sessions by state.
    pub fn publish_sessions(&self, connected: usize, detached: usize) {
        for (state, n) in [("connected", connected), ("detached", detached)] {
            self.signaling_sessions
                .get_or_create(&StateLabels { state })
                .set(n as i64);
        }
    }

    /// Publishes the call legs by state.
    pub fn publish_calls(&self, calls: &[(&'static str, usize)]) {
        for (state, n) in calls {
            self.calls
                .get_or_create(&StateLabels { state })
                .set(*n as i64);
        }
    }

    /// Records a SIP request Weft answered with a final status.
    pub fn observe_sip(&self, method: &str, status: u16) {
        self.sip.answered(method, status);
    }

    /// Publishes the SIP registrations and calls by state.
    pub fn publish_sip(&self, registrations: usize, calls: &[(&'static str, usize)]) {
        self.sip.publish(registrations, calls);
    }

    /// Shows the SWML series for `methods` (SWML's method names) and every error reason at 0.
    pub fn swml_known<'a>(&self, methods: impl IntoIterator<Item = &'a str>) {
        self.swml.known(methods);
    }

    /// A call started running a SWML script.
    pub fn swml_started(&self) {
        self.swml.started();
    }

    /// A call's script ended, having run `steps` methods by name.
    pub fn swml_ended<'a>(&self, steps: impl IntoIterator<Item = (&'a str, u32)>) {
        self.swml.ended(steps);
    }

    /// A script stopped, or one of its methods failed, for `reason`.
    pub fn swml_error(&self, reason: &'static str) {
        self.swml.error(reason);
    }

    /// Sets the media series from the engine's totals.
    pub fn publish_media(&self, totals: &MediaTotals) {
        self.media.publish(totals);
    }

    /// The exposition of every series in `format` (process metrics read now).
    pub fn render(&self, format: Format) -> String {
        self.process.refresh();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
            Format::PrometheusText => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
        };
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
        let text = m.render(Format::OpenMetrics);
        assert!(text.contains(
            "weft_http_requests_total{route=\"/api/fabric/resources\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains("weft_http_request_duration_seconds_bucket"));
        assert!(text.contains("process_resident_memory_bytes"));
        assert!(text.ends_with("# EOF\n"));
        let classic = m.render(Format::PrometheusText);
        assert!(classic.contains("# HELP weft_http_requests_total "));
        assert!(!classic.contains("# EOF"));
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::PrometheusText);
        assert_eq!(Format::negotiate(None), Format::PrometheusText);
    }

    #[test]
    fn signaling_and_media_series_show_what_was_published() {
        let m = Metrics::new();
        let text = m.render(Format::OpenMetrics);
        assert!(text.contains("weft_forwarded_packets_total{kind=\"video\"} 0"));
        assert!(text.contains("weft_signaling_sessions{state=\"connected\"} 0"));
        assert!(text.contains("weft_forwarding_latency_seconds_bucket{le=\"+Inf\"} 0"));
        m.observe_ws("verto.invite", true);
        m.observe_join(Duration::from_millis(120));
        m.publish_sessions(3, 1);
        m.publish_calls(&[("active", 2), ("joining", 1)]);
        m.observe_sip("INVITE", 486);
        m.publish_sip(4, &[("early", 1), ("active", 2)]);
        m.swml_started();
        m.swml_started();
        m.swml_ended([("play", 3), ("answer", 1)]);
        m.swml_error("step_limit");
        m.publish_media(&MediaTotals {
            rooms: 2,
            forwarded_packets: [10, 20],
            feedback_in: [0, 4, 0],
            forwarding_latency: HistogramTotals {
                buckets: vec![(0.00005, 5), (0.0001, 3), (f64::INFINITY, 1)],
                sum: 0.01,
            },
            ..MediaTotals::default()
        });
        let text = m.render(Format::OpenMetrics);
        for line in [
            "weft_ws_requests_total{method=\"verto.invite\",result=\"ok\"} 1",
            "weft_join_duration_seconds_count 1",
            "weft_signaling_sessions{state=\"detached\"} 1",
            "weft_calls{state=\"active\"} 2",
            "weft_rooms 2",
            "weft_forwarded_packets_total{kind=\"audio\"} 10",
            "weft_forwarded_packets_total{kind=\"video\"} 20",
            "weft_rtcp_feedback_total{type=\"pli\",direction=\"in\"} 4",
            "weft_forwarding_latency_seconds_count 9",
            "weft_forwarding_latency_seconds_bucket{le=\"0.0001\"} 8",
            "weft_forwarding_latency_seconds_bucket{le=\"+Inf\"} 9",
            "weft_sip_requests_total{method=\"INVITE\",status=\"486\"} 1",
            "weft_sip_registrations 4",
            "weft_sip_calls{state=\"active\"} 2",
            "weft_swml_calls 1",
            "weft_swml_steps_total{method=\"play\"} 3",
            "weft_swml_errors_total{reason=\"step_limit\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
