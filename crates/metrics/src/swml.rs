//! The SWML scripts' series: calls running a script, methods run, and why scripts or their
//! methods failed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Every reason of `weft_swml_errors_total`.
pub const SWML_ERROR_REASONS: [&str; 12] = [
    "step_limit",
    "depth_limit",
    "script_error",
    "load_failed",
    "answer_failed",
    "play_failed",
    "prompt_failed",
    "connect_failed",
    "request_failed",
    "fetch_failed",
    "record_failed",
    "method_failed",
];

/// Labels of `weft_swml_steps_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The SWML method (a validated script's, so one of SWML's method names).
    pub method: String,
}

/// Labels of `weft_swml_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why (a closed set, see the README's metrics table).
    pub reason: &'static str,
}

/// `weft_swml_calls`, `weft_swml_steps_total`, `weft_swml_errors_total`.
pub(crate) struct SwmlSeries {
    calls: Gauge,
    steps: Family<MethodLabels, Counter>,
    errors: Family<ReasonLabels, Counter>,
}

impl SwmlSeries {
    pub fn register(registry: &mut Registry) -> Self {
        let calls = Gauge::default();
        registry.register(
            "weft_swml_calls",
            "Calls running a SWML script",
            calls.clone(),
        );
        let steps = Family::<MethodLabels, Counter>::default();
        registry.register(
            "weft_swml_steps",
            "SWML methods run, by method (counted when the script ends)",
            steps.clone(),
        );
        let errors = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "weft_swml_errors",
            "SWML scripts that stopped and methods that failed, by reason",
            errors.clone(),
        );
        Self {
            calls,
            steps,
            errors,
        }
    }

    /// Shows every method of `methods` and every error reason at zero.
    pub fn known<'a>(&self, methods: impl IntoIterator<Item = &'a str>) {
        for method in methods {
            self.steps
                .get_or_create(&MethodLabels {
                    method: method.to_owned(),
                })
                .inc_by(0);
        }
        for reason in SWML_ERROR_REASONS {
            self.errors
                .get_or_create(&ReasonLabels { reason })
                .inc_by(0);
        }
    }

    pub fn started(&self) {
        self.calls.inc();
    }

    pub fn ended<'a>(&self, steps: impl IntoIterator<Item = (&'a str, u32)>) {
        self.calls.dec();
        for (method, n) in steps {
            self.steps
                .get_or_create(&MethodLabels {
                    method: method.to_owned(),
                })
                .inc_by(u64::from(n));
        }
    }

    pub fn error(&self, reason: &'static str) {
        self.errors.get_or_create(&ReasonLabels { reason }).inc();
    }
}
