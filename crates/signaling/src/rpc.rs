//! JSON-RPC 2.0 codec: decoding client frames with size limits and building server frames.

use serde_json::{Map, Value, json};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request or response object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error (e.g. a dependency did not answer in time).
pub const INTERNAL_ERROR: i64 = -32603;
/// Authentication failed or the session is not authenticated (the SDK maps it to `AuthError`).
pub const AUTH_ERROR: i64 = -32002;
/// Too many requests in a short time.
pub const RATE_LIMITED: i64 = -32000;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// Numeric error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
}

impl RpcError {
    /// Builds an error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `-32602 Invalid params: <detail>`.
    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_PARAMS, format!("Invalid params: {detail}"))
    }

    /// The error as a JSON object.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }
}

/// One decoded frame from the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request that must be answered.
    Request {
        /// The request id (string or number).
        id: Value,
        /// The method name.
        method: String,
        /// The params (an object; `{}` when absent).
        params: Value,
    },
    /// A notification (no id); never answered.
    Notification {
        /// The method name.
        method: String,
    },
    /// A response to one of our requests.
    Response {
        /// The id of our request.
        id: Value,
        /// `Ok(result)` or `Err(error)`.
        outcome: Result<Value, RpcError>,
    },
}

/// A frame that could not be decoded, with the id to answer to when one was readable.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The request id, if the frame had a usable one.
    pub id: Option<Value>,
    /// The error to send back.
    pub error: RpcError,
}

fn is_valid_id(id: &Value) -> bool {
    match id {
        Value::String(s) => s.len() <= 128,
        Value::Number(_) => true,
        _ => false,
    }
}

/// Decodes one text frame of at most `max_len` bytes.
pub fn decode(text: &str, max_len: usize) -> Result<Frame, DecodeError> {
    let fail = |id: Option<Value>, code, msg: &str| DecodeError {
        id,
        error: RpcError::new(code, msg),
    };
    if text.len() > max_len {
        return Err(fail(
            None,
            INVALID_REQUEST,
            "Invalid Request: frame too large",
        ));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|_| fail(None, PARSE_ERROR, "Parse error"))?;
    let Value::Object(mut obj) = value else {
        return Err(fail(
            None,
            INVALID_REQUEST,
            "Invalid Request: expected an object",
        ));
    };
    let id = obj.remove("id").filter(|v| !v.is_null());
    if let Some(id) = &id
        && !is_valid_id(id)
    {
        return Err(fail(None, INVALID_REQUEST, "Invalid Request: bad id"));
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(fail(
            id,
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        ));
    }
    match obj.remove("method") {
        Some(Value::String(method)) => {
            let params = match obj.remove("params") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(p @ Value::Object(_)) => p,
                Some(_) => {
                    return Err(fail(
                        id,
                        INVALID_PARAMS,
                        "Invalid params: expected an object",
                    ));
                }
            };
            match id {
                Some(id) => Ok(Frame::Request { id, method, params }),
                None => Ok(Frame::Notification { method }),
            }
        }
        Some(_) => Err(fail(
            id,
            INVALID_REQUEST,
            "Invalid Request: method must be a string",
        )),
        None => {
            let Some(id) = id else {
                return Err(fail(None, INVALID_REQUEST, "Invalid Request: missing id"));
            };
            if let Some(result) = obj.remove("result") {
                return Ok(Frame::Response {
                    id,
                    outcome: Ok(result),
                });
            }
            let error = obj.remove("error").and_then(|e| {
                Some(RpcError::new(
                    e.get("code")?.as_i64()?,
                    e.get("message").and_then(Value::as_str).unwrap_or(""),
                ))
            });
            match error {
                Some(error) => Ok(Frame::Response {
                    id,
                    outcome: Err(error),
                }),
                None => Err(fail(
                    Some(id),
                    INVALID_REQUEST,
                    "Invalid Request: needs method, result or error",
                )),
            }
        }
    }
}

/// A request frame from the server.
pub fn request(id: &str, method: &str, params: &Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// A success response frame.
pub fn result(id: &Value, result: &Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// An error response frame; `id` is `null` when the request id was unreadable.
pub fn error(id: Option<&Value>, err: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": err.to_json()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_request_with_default_params() {
        let f = decode(r#"{"jsonrpc":"2.0","id":"a","method":"m"}"#, 1024).unwrap();
        assert_eq!(
            f,
            Frame::Request {
                id: json!("a"),
                method: "m".into(),
                params: json!({})
            }
        );
    }

    #[test]
    fn decodes_responses() {
        let ok = decode(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#, 1024).unwrap();
        assert_eq!(
            ok,
            Frame::Response {
                id: json!("a"),
                outcome: Ok(json!({}))
            }
        );
        let err = decode(
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"x"}}"#,
            1024,
        )
        .unwrap();
        assert_eq!(
            err,
            Frame::Response {
                id: json!(7),
                outcome: Err(RpcError::new(-1, "x"))
            }
        );
    }

    #[test]
    fn notification_has_no_id() {
        let f = decode(r#"{"jsonrpc":"2.0","method":"m","params":{}}"#, 1024).unwrap();
        assert_eq!(f, Frame::Notification { method: "m".into() });
    }

    #[test]
    fn rejects_garbage_with_standard_codes() {
        let code = |t: &str| decode(t, 64).unwrap_err().error.code;
        assert_eq!(code("{not json"), PARSE_ERROR);
        assert_eq!(code("[1,2]"), INVALID_REQUEST);
        assert_eq!(code(r#"{"id":"a","method":"m"}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":"a","method":"m","params":[1]}"#),
            INVALID_PARAMS
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":"a","method":5}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":"a"}"#), INVALID_REQUEST);
        assert_eq!(code(&format!("\"{}\"", "x".repeat(100))), INVALID_REQUEST);
    }

    #[test]
    fn keeps_id_for_error_replies_when_readable() {
        let e = decode(r#"{"jsonrpc":"1.0","id":"q","method":"m"}"#, 1024).unwrap_err();
        assert_eq!(e.id, Some(json!("q")));
        let frame = error(e.id.as_ref(), &e.error);
        let back: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(back["id"], "q");
        assert_eq!(back["error"]["code"], INVALID_REQUEST);
    }
}
