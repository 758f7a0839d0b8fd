//! The SIP server's series: requests answered, registrations, calls by state.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::StateLabels;

/// Labels of a SIP request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SipLabels {
    /// The request method (a closed set: the SIP stack parses no other).
    pub method: String,
    /// The final status Weft answered with.
    pub status: u16,
}

/// `weft_sip_requests_total`, `weft_sip_registrations`, `weft_sip_calls`.
pub(crate) struct SipSeries {
    requests: Family<SipLabels, Counter>,
    registrations: Gauge,
    calls: Family<StateLabels, Gauge>,
}

impl SipSeries {
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<SipLabels, Counter>::default();
        registry.register(
            "weft_sip_requests",
            "SIP requests Weft answered, by method and final status",
            requests.clone(),
        );
        let registrations = Gauge::default();
        registry.register(
            "weft_sip_registrations",
            "Registered SIP contacts (bindings)",
            registrations.clone(),
        );
        let calls = Family::<StateLabels, Gauge>::default();
        registry.register(
            "weft_sip_calls",
            "SIP calls (dialogs) by state: early (not answered yet) or active",
            calls.clone(),
        );
        Self {
            requests,
            registrations,
            calls,
        }
    }

    pub fn answered(&self, method: &str, status: u16) {
        self.requests
            .get_or_create(&SipLabels {
                method: method.to_owned(),
                status,
            })
            .inc();
    }

    pub fn publish(&self, registrations: usize, calls: &[(&'static str, usize)]) {
        self.registrations.set(registrations as i64);
        for (state, n) in calls {
            self.calls
                .get_or_create(&StateLabels { state })
                .set(*n as i64);
        }
    }
}
