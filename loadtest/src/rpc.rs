//! JSON-RPC 2.0 framing as the Fabric WebSocket uses it: requests with UUID ids both ways,
//! results and errors, one message per text frame.

use serde_json::{Value, json};

/// One incoming text frame, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request from the server (it expects a reply with the same `id`).
    Request {
        /// The request id, echoed in the reply.
        id: Value,
        /// The method name.
        method: String,
        /// The params (`Null` when absent).
        params: Value,
    },
    /// A reply to one of our requests.
    Response {
        /// The id of our request (string ids only; the client only sends strings).
        id: String,
        /// `result`, or the `error` object.
        outcome: Result<Value, Value>,
    },
    /// Not JSON, or JSON that is not a JSON-RPC message.
    Invalid,
}

/// Parses one frame; never fails (garbage is [`Incoming::Invalid`]).
pub fn parse(text: &str) -> Incoming {
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(text) else {
        return Incoming::Invalid;
    };
    if let Some(Value::String(method)) = m.remove("method") {
        let id = m.remove("id").unwrap_or(Value::Null);
        let params = m.remove("params").unwrap_or(Value::Null);
        return Incoming::Request { id, method, params };
    }
    let Some(Value::String(id)) = m.remove("id") else {
        return Incoming::Invalid;
    };
    if let Some(error) = m.remove("error") {
        return Incoming::Response {
            id,
            outcome: Err(error),
        };
    }
    match m.remove("result") {
        Some(result) => Incoming::Response {
            id,
            outcome: Ok(result),
        },
        None => Incoming::Invalid,
    }
}

/// A request frame.
pub fn request(id: &str, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// A reply frame carrying `result`.
pub fn reply(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// Whether a Fabric result is a success: no `code`, or a `code` of `2xx` (string or number).
pub fn is_success(result: &Value) -> bool {
    match result.get("code") {
        None => true,
        Some(Value::String(c)) => c.starts_with('2'),
        Some(Value::Number(n)) => n.as_u64().is_some_and(|c| (200..300).contains(&c)),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests_responses_and_garbage() {
        let r = parse(
            r#"{"jsonrpc":"2.0","id":"a","method":"signalwire.ping","params":{"timestamp":1.5}}"#,
        );
        assert_eq!(
            r,
            Incoming::Request {
                id: json!("a"),
                method: "signalwire.ping".into(),
                params: json!({"timestamp": 1.5})
            }
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"b","result":{"x":1}}"#),
            Incoming::Response {
                id: "b".into(),
                outcome: Ok(json!({"x": 1}))
            }
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"c","error":{"code":-32002,"message":"no"}}"#),
            Incoming::Response {
                id: "c".into(),
                outcome: Err(json!({"code": -32002, "message": "no"}))
            }
        );
        for junk in [
            "",
            "[]",
            "nope",
            r#"{"id":"x"}"#,
            r#"{"result":{}}"#,
            r#"{"id":1,"result":{}}"#,
        ] {
            assert_eq!(parse(junk), Incoming::Invalid, "{junk}");
        }
    }

    #[test]
    fn frames_round_trip() {
        let f = request("id-1", "signalwire.connect", json!({"a": 1}));
        match parse(&f) {
            Incoming::Request { id, method, params } => {
                assert_eq!(
                    (id, method.as_str(), params),
                    (json!("id-1"), "signalwire.connect", json!({"a": 1}))
                );
            }
            other => panic!("{other:?}"),
        }
        let v: Value = serde_json::from_str(&reply(&json!("x"), json!({}))).unwrap();
        assert_eq!(v, json!({"jsonrpc": "2.0", "id": "x", "result": {}}));
    }

    #[test]
    fn fabric_codes() {
        assert!(is_success(&json!({})));
        assert!(is_success(&json!({"code": "200"})));
        assert!(is_success(&json!({"code": 201})));
        assert!(!is_success(&json!({"code": "404"})));
        assert!(!is_success(&json!({"code": 500})));
        assert!(!is_success(&json!({"code": null})));
    }
}
