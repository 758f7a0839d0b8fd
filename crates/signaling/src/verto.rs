//! Verto helpers: hang-up causes, message builders and SDP fix-ups.

use serde_json::{Value, json};
use weft_calls::Cause;

/// `verto.answer`/`verto.media` params for `call_id`, with `sdp` when given.
pub fn answer_params(call_id: &str, sdp: Option<&str>) -> Value {
    match sdp {
        Some(sdp) => json!({"callID": call_id, "sdp": sdp}),
        None => json!({"callID": call_id}),
    }
}

/// `verto.bye` params.
pub fn bye_params(call_id: &str, cause: Cause) -> Value {
    json!({"callID": call_id, "cause": cause.name(), "causeCode": cause.code()})
}

/// A full inner Verto request (the SDK ignores inner messages without `jsonrpc`).
pub fn message(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The 2xx reply wrapper for a client `webrtc.verto` request.
pub fn reply(verto_id: &Value, node_id: &str, inner: Value) -> Value {
    json!({"code": "200", "node_id": node_id,
           "result": {"jsonrpc": "2.0", "id": verto_id, "result": inner}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_names() {
        assert_eq!(bye_params("c", Cause::UserNotRegistered)["causeCode"], 606);
        assert_eq!(bye_params("c", Cause::UserBusy)["cause"], "USER_BUSY");
    }
}
