//! The 43 calling-SWML methods (§B.3) and the check of each one's parameters.

use serde_json::Value;

use super::path::Path;
use super::shape::{Check, object};
use super::structure::Cx;
use super::{connect, flow, media};

/// A check of one method's parameters, given their path (ending in the method's name).
type ParamsCheck = fn(&Value, &Path, &Cx) -> Check;

/// Every calling method with the check of its parameters, in the order of §B.3.
const TABLE: [(&str, ParamsCheck); 43] = [
    // Call lifecycle and flow control.
    ("answer", flow::answer),
    ("hangup", flow::hangup),
    ("sleep", flow::sleep),
    ("label", flow::label),
    ("goto", flow::goto),
    ("execute", flow::execute),
    ("transfer", flow::transfer),
    ("return", flow::ret),
    ("set", flow::set),
    ("unset", flow::unset),
    ("switch", flow::switch),
    ("cond", flow::cond),
    ("request", flow::request),
    ("user_event", flow::user_event),
    // Media.
    ("play", media::play),
    ("prompt", media::prompt),
    ("record", media::record),
    ("record_call", media::record_call),
    ("stop_record_call", media::stop_record_call),
    ("send_digits", media::send_digits),
    ("denoise", media::denoise),
    ("stop_denoise", media::stop_denoise),
    ("detect_machine", any_object),
    ("live_transcribe", any_object),
    ("live_translate", any_object),
    ("transcribe", any_object),
    ("transcribe_stop", any_object),
    // Connecting parties.
    ("connect", connect::connect),
    ("join_room", connect::join_room),
    ("join_conference", any_object),
    ("enter_queue", any_object),
    ("sip_refer", any_object),
    // External media.
    ("tap", media::tap),
    ("stop_tap", media::stop_tap),
    ("stream", media::stream),
    ("stop_stream", media::stop_stream),
    // Other.
    ("send_sms", any_object),
    ("send_fax", any_object),
    ("receive_fax", any_object),
    ("pay", any_object),
    ("ai", any_object),
    ("ai_sidecar", any_object),
    ("amazon_bedrock", any_object),
];

/// The names of the 43 calling-SWML methods.
pub const CALLING_METHODS: [&str; 43] = names();

const fn names() -> [&'static str; 43] {
    let mut out = [""; 43];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].0;
        i += 1;
    }
    out
}

/// Whether `name` is one of the 43 calling-SWML methods.
pub fn is_calling_method(name: &str) -> bool {
    CALLING_METHODS.contains(&name)
}

/// Checks the parameters of the method `name` in the element at `at`.
pub(crate) fn check(name: &str, params: &Value, at: &Path, cx: &Cx) -> Check {
    match TABLE.iter().find(|(known, _)| *known == name) {
        Some((_, check_params)) => check_params(params, &at.key(name), cx),
        None => Err(at.invalid(format!(
            "unknown method `{name}`; SWML has {} calling methods such as answer, play, prompt, connect, hangup",
            TABLE.len()
        ))),
    }
}

/// The methods Weft does not run (yet): their parameters must be an object, which is not
/// looked into.
fn any_object(value: &Value, at: &Path, _cx: &Cx) -> Check {
    object(value, at).map(drop)
}

#[cfg(test)]
mod tests {
    use super::CALLING_METHODS;

    #[test]
    fn names_every_method_once() {
        let mut sorted = CALLING_METHODS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 43);
    }
}
