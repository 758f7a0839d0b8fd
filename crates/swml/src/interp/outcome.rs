//! What the call controller reports back for an action, and the output variables each
//! method sets from it (`prompt_value`, `record_url`, `connect_result`, `request_*`, …).

use serde_json::{Map, Value};

use crate::document::Document;

/// The result of the last [`Action`](super::Action), given to
/// [`Interpreter::resume`](super::Interpreter::resume).
///
/// An outcome the action does not expect counts as a failure of that action, except that
/// `Done` is always a plain acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Carried out (for `connect`: connected and the bridge has ended; for `join_room`:
    /// joined).
    Done,
    /// Could not be carried out; `reason` goes to the log, and to `connect_failed_reason`.
    Failed {
        /// Why.
        reason: String,
    },
    /// `prompt`: the digits collected (empty: no input) and the terminator that ended them.
    Digits {
        /// The digits, without the terminator.
        digits: String,
        /// The terminator pressed, if any.
        terminator: Option<char>,
    },
    /// `record`: the recording is stored.
    Recorded {
        /// Where it can be fetched.
        url: String,
    },
    /// `record_call`: the background recording has started.
    RecordingStarted {
        /// Its id (the script's `control_id`, or one the controller made).
        control_id: String,
        /// Where it will be fetched.
        url: String,
    },
    /// `request`: the HTTP response.
    Response(Response),
    /// `Fetch`: the SWML document fetched (already parsed and validated).
    Document(Document),
}

/// An HTTP response to a `request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers as received (names in any case).
    pub headers: Vec<(String, String)>,
    /// The body (the controller may cap it; the interpreter keeps at most 64 KiB of it).
    pub body: Vec<u8>,
}

/// The most of a response body kept in `request_response_body`.
pub const MAX_SAVED_BODY: usize = 64 * 1024;

/// The most response headers kept in `request_response_headers`.
const MAX_SAVED_HEADERS: usize = 64;

/// Which output variables an action sets.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outputs {
    /// None.
    Nothing,
    /// `prompt_*`.
    Prompt,
    /// `record_url`, `record_result`.
    Record,
    /// `record_call_url`, `record_call_result`, `record_control_id`.
    RecordCall,
    /// `connect_result`, `connect_failed_reason`, `return_value`.
    Connect,
    /// `join_room_result`.
    JoinRoom,
    /// `request_*`, `return_value`; `request_response.*` with `save_variables`.
    Request { url: String, save_variables: bool },
}

/// Sets the variables of `outputs` in `vars` from `outcome`.
pub(super) fn set_outputs(outputs: &Outputs, outcome: &Outcome, vars: &mut Map<String, Value>) {
    let mut set = |name: &str, value: Value| {
        vars.insert(name.to_owned(), value);
    };
    match (outputs, outcome) {
        (Outputs::Nothing, _) => {}
        (Outputs::Prompt, Outcome::Digits { digits, terminator }) => {
            let result = if digits.is_empty() && terminator.is_none() {
                "no_input"
            } else {
                "match_digits"
            };
            set("prompt_result", result.into());
            set("prompt_value", digits.as_str().into());
            set(
                "prompt_digit_terminator",
                terminator.map(String::from).unwrap_or_default().into(),
            );
        }
        (Outputs::Prompt, _) => {
            set("prompt_result", "failed".into());
            set("prompt_value", "".into());
            set("prompt_digit_terminator", "".into());
        }
        (Outputs::Record, Outcome::Recorded { url }) => {
            set("record_url", url.as_str().into());
            set("record_result", "success".into());
        }
        (Outputs::Record, _) => {
            set("record_url", "".into());
            set("record_result", "failed".into());
        }
        (Outputs::RecordCall, Outcome::RecordingStarted { control_id, url }) => {
            set("record_call_url", url.as_str().into());
            set("record_call_result", "success".into());
            set("record_control_id", control_id.as_str().into());
        }
        (Outputs::RecordCall, _) => {
            set("record_call_url", "".into());
            set("record_call_result", "failed".into());
        }
        (Outputs::Connect, Outcome::Done) => {
            set("connect_result", "connected".into());
            set("connect_failed_reason", "".into());
            set("return_value", "connected".into());
        }
        (Outputs::Connect, other) => {
            set("connect_result", "failed".into());
            set("connect_failed_reason", failure_reason(other).into());
            set("return_value", "failed".into());
        }
        (Outputs::JoinRoom, Outcome::Done) => set("join_room_result", "joined".into()),
        (Outputs::JoinRoom, _) => set("join_room_result", "failed".into()),
        (
            Outputs::Request {
                url,
                save_variables,
            },
            outcome,
        ) => set_request_outputs(url, *save_variables, outcome, vars),
    }
}

/// Why an outcome counts as a failure.
pub(super) fn failure_reason(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { reason } => reason.clone(),
        other => format!("unexpected outcome {}", outcome_name(other)),
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Done => "Done",
        Outcome::Failed { .. } => "Failed",
        Outcome::Digits { .. } => "Digits",
        Outcome::Recorded { .. } => "Recorded",
        Outcome::RecordingStarted { .. } => "RecordingStarted",
        Outcome::Response(_) => "Response",
        Outcome::Document(_) => "Document",
    }
}

/// `request`: a 2xx response is `success`, anything else `failed`; the response's variables
/// are replaced (removed when there is no response).
fn set_request_outputs(
    url: &str,
    save_variables: bool,
    outcome: &Outcome,
    vars: &mut Map<String, Value>,
) {
    for stale in [
        "request_response_code",
        "request_response_headers",
        "request_response_body",
        "request_response",
    ] {
        vars.remove(stale);
    }
    vars.insert("request_url".into(), url.into());
    let result = match outcome {
        Outcome::Response(response) => {
            vars.insert("request_response_code".into(), response.status.into());
            let mut headers = Map::new();
            for (name, value) in &response.headers {
                let name = name.trim().to_ascii_lowercase();
                if headers.len() == MAX_SAVED_HEADERS && !headers.contains_key(&name) {
                    continue;
                }
                let value = match headers.get(&name).and_then(Value::as_str) {
                    Some(earlier) => format!("{earlier}, {}", value.trim()),
                    None => value.trim().to_owned(),
                };
                headers.insert(name, value.into());
            }
            vars.insert("request_response_headers".into(), headers.into());
            vars.insert(
                "request_response_body".into(),
                saved_body(&response.body).into(),
            );
            if save_variables
                && let Ok(Value::Object(fields)) = serde_json::from_slice(&response.body)
            {
                vars.insert("request_response".into(), Value::Object(fields));
            }
            if (200..300).contains(&response.status) {
                "success"
            } else {
                "failed"
            }
        }
        _ => "failed",
    };
    vars.insert("request_result".into(), result.into());
    vars.insert("return_value".into(), result.into());
}

/// The body as text, cut to at most [`MAX_SAVED_BODY`] bytes at a character boundary.
fn saved_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_SAVED_BODY)]);
    let mut end = text.len().min(MAX_SAVED_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn outputs(outputs: Outputs, outcome: Outcome) -> Map<String, Value> {
        let mut vars = Map::new();
        set_outputs(&outputs, &outcome, &mut vars);
        vars
    }

    #[test]
    fn prompt_digits_no_input_and_failure() {
        let v = outputs(
            Outputs::Prompt,
            Outcome::Digits {
                digits: "12".into(),
                terminator: Some('#'),
            },
        );
        assert_eq!(v["prompt_result"], "match_digits");
        assert_eq!(v["prompt_value"], "12");
        assert_eq!(v["prompt_digit_terminator"], "#");
        let v = outputs(
            Outputs::Prompt,
            Outcome::Digits {
                digits: String::new(),
                terminator: None,
            },
        );
        assert_eq!(v["prompt_result"], "no_input");
        assert_eq!(
            outputs(Outputs::Prompt, Outcome::Done)["prompt_result"],
            "failed"
        );
    }

    #[test]
    fn record_record_call_join_room() {
        let v = outputs(Outputs::Record, Outcome::Recorded { url: "u".into() });
        assert_eq!(
            (&v["record_url"], &v["record_result"]),
            (&json!("u"), &json!("success"))
        );
        let v = outputs(
            Outputs::RecordCall,
            Outcome::RecordingStarted {
                control_id: "c".into(),
                url: "u".into(),
            },
        );
        assert_eq!(v["record_control_id"], "c");
        assert_eq!(v["record_call_url"], "u");
        assert_eq!(v["record_call_result"], "success");
        let failed = Outcome::Failed { reason: "x".into() };
        assert_eq!(
            outputs(Outputs::Record, failed.clone())["record_result"],
            "failed"
        );
        assert_eq!(
            outputs(Outputs::JoinRoom, Outcome::Done)["join_room_result"],
            "joined"
        );
        assert_eq!(
            outputs(Outputs::JoinRoom, failed)["join_room_result"],
            "failed"
        );
    }

    #[test]
    fn connect_result_reason_and_return_value() {
        let v = outputs(Outputs::Connect, Outcome::Done);
        assert_eq!(v["connect_result"], "connected");
        assert_eq!(v["return_value"], "connected");
        let v = outputs(
            Outputs::Connect,
            Outcome::Failed {
                reason: "no answer".into(),
            },
        );
        assert_eq!(v["connect_result"], "failed");
        assert_eq!(v["connect_failed_reason"], "no answer");
        assert_eq!(v["return_value"], "failed");
    }

    fn request(save_variables: bool, outcome: Outcome) -> Map<String, Value> {
        outputs(
            Outputs::Request {
                url: "https://x/".into(),
                save_variables,
            },
            outcome,
        )
    }

    #[test]
    fn request_saves_code_headers_body_and_json_fields() {
        let response = Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                (" Set-Cookie ".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: br#"{"ok": true, "n": {"home": "x"}}"#.to_vec(),
        };
        let v = request(true, Outcome::Response(response.clone()));
        assert_eq!(v["request_url"], "https://x/");
        assert_eq!(v["request_result"], "success");
        assert_eq!(v["return_value"], "success");
        assert_eq!(v["request_response_code"], 200);
        assert_eq!(
            v["request_response_headers"]["content-type"],
            "application/json"
        );
        assert_eq!(v["request_response_headers"]["set-cookie"], "a=1, b=2");
        assert_eq!(v["request_response"]["n"]["home"], "x");
        assert!(
            v["request_response_body"]
                .as_str()
                .unwrap()
                .contains("\"ok\"")
        );
        let v = request(false, Outcome::Response(response));
        assert!(!v.contains_key("request_response"));
        let v = request(
            true,
            Outcome::Response(Response {
                status: 500,
                headers: vec![],
                body: b"[1]".to_vec(),
            }),
        );
        assert_eq!(v["request_result"], "failed");
        assert!(!v.contains_key("request_response"));
    }

    #[test]
    fn a_failed_request_clears_the_last_response() {
        let mut vars = request(
            true,
            Outcome::Response(Response {
                status: 200,
                headers: vec![],
                body: b"{\"a\": 1}".to_vec(),
            }),
        );
        set_outputs(
            &Outputs::Request {
                url: "https://y/".into(),
                save_variables: true,
            },
            &Outcome::Failed {
                reason: "refused".into(),
            },
            &mut vars,
        );
        assert_eq!(vars["request_result"], "failed");
        assert_eq!(vars["request_url"], "https://y/");
        assert!(!vars.contains_key("request_response"));
        assert!(!vars.contains_key("request_response_code"));
    }

    #[test]
    fn bodies_and_headers_are_capped() {
        let mut body = vec![b'a'; MAX_SAVED_BODY - 1];
        body.extend_from_slice("é".as_bytes());
        body.extend_from_slice(b"tail");
        assert_eq!(saved_body(&body).len(), MAX_SAVED_BODY - 1);
        let headers = (0..100)
            .map(|i| (format!("X-{i}"), "v".to_owned()))
            .collect();
        let v = request(
            false,
            Outcome::Response(Response {
                status: 204,
                headers,
                body: vec![],
            }),
        );
        assert_eq!(
            v["request_response_headers"].as_object().unwrap().len(),
            MAX_SAVED_HEADERS
        );
    }
}
