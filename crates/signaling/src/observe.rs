//! What signaling reports for metrics, as plain values. The sans-IO cores only count; the shell
//! hands the counts to an [`Observer`] the host implements with its metrics library.

use serde_json::Value;

/// Sessions at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubSnapshot {
    /// Sessions with a socket attached.
    pub sessions_connected: usize,
    /// Sessions without a socket, kept for a resume within the grace period.
    pub sessions_detached: usize,
}

/// Receives signaling's counts; implemented by the server with its metrics registry.
pub trait Observer: Send + Sync + 'static {
    /// A client request was answered; `method` is one of a fixed set of labels
    /// ([`method_label`]).
    fn request(&self, method: &'static str, ok: bool);
    /// The hub's state, reported about once a second.
    fn hub(&self, snapshot: &HubSnapshot);
}

/// Reports nothing.
impl Observer for () {
    fn request(&self, _: &'static str, _: bool) {}
    fn hub(&self, _: &HubSnapshot) {}
}

/// Request methods counted under their own name; any other is `unknown`, so a client cannot
/// create new label values.
const METHODS: &[&str] = &[
    "signalwire.connect",
    "signalwire.ping",
    "signalwire.reauthenticate",
    "subscriber.online",
    "subscriber.offline",
    "call.mute",
    "call.unmute",
    "call.deaf",
    "call.undeaf",
    "call.member.list",
    "call.layout.list",
    "call.layout.set",
    "call.member.position.set",
    "call.microphone.volume.set",
    "call.speaker.volume.set",
    "call.microphone.sensitivity.set",
    "call.raisehand",
    "call.lowerhand",
    "call.audioflags.set",
    "call.member.remove",
    "call.lock",
    "call.unlock",
    "call.end",
];

/// Verto methods inside `webrtc.verto`, counted as `verto.<method>`.
const VERTO_METHODS: &[&str] = &[
    "verto.invite",
    "verto.answer",
    "verto.bye",
    "verto.info",
    "verto.modify",
    "verto.ping",
    "verto.pong",
    "verto.subscribe",
];

/// Label of a frame that is not a valid JSON-RPC request.
pub const INVALID: &str = "invalid";

/// The metrics label of a request: its method, the Verto method inside `webrtc.verto`
/// (`verto.result` for the client's answer to one of ours), or `unknown`.
pub fn method_label(method: &str, params: &Value) -> &'static str {
    let known = |list: &[&'static str], name: &str| list.iter().copied().find(|m| *m == name);
    if method != "webrtc.verto" {
        return known(METHODS, method).unwrap_or("unknown");
    }
    let message = params.get("message");
    if message.is_some_and(|m| m.get("result").is_some() || m.get("error").is_some()) {
        return "verto.result";
    }
    message
        .and_then(|m| m.get("method"))
        .and_then(Value::as_str)
        .and_then(|m| known(VERTO_METHODS, m))
        .unwrap_or("verto.unknown")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn labels_come_from_a_fixed_set() {
        assert_eq!(
            method_label("signalwire.connect", &json!({})),
            "signalwire.connect"
        );
        assert_eq!(method_label("call.lock", &json!({})), "call.lock");
        assert_eq!(method_label("no.such.method", &json!({})), "unknown");
        let invite = json!({"message": {"method": "verto.invite", "id": 1}});
        assert_eq!(method_label("webrtc.verto", &invite), "verto.invite");
        let reply = json!({"message": {"result": {}, "id": 1}});
        assert_eq!(method_label("webrtc.verto", &reply), "verto.result");
        let odd = json!({"message": {"method": "verto.x", "id": 1}});
        assert_eq!(method_label("webrtc.verto", &odd), "verto.unknown");
    }
}
