//! Request bodies and query strings: parsed strictly, every problem named by attribute.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// The longest ordinary string field we store.
pub const MAX_STRING: usize = 255;
/// The longest free-text field (descriptions, prompts, URLs).
pub const MAX_TEXT: usize = 64 * 1024;

/// A JSON object body. Malformed JSON is a 400, a non-object a 422, an oversized body a 413.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::invalid(
                "body",
                "invalid_parameter",
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::BadRequest(format!("malformed JSON: {e}"))),
        }
    }
}

/// Query-string parameters (last value wins).
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::BadRequest(
                "query parameters may not contain NUL".into(),
            ));
        }
        Ok(Params(pairs.into_iter().collect()))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Reads typed fields out of a JSON object, collecting every problem before failing.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Fields {
            object,
            errors: Vec::new(),
        }
    }

    /// Records a problem with a field.
    pub fn reject(&mut self, key: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError {
            attribute: key.to_owned(),
            code,
            message: message.into(),
        });
    }

    fn present(&mut self, key: &str, required: bool) -> Option<&'a Value> {
        match self.object.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.reject(key, "missing_parameter", format!("{key} is required"));
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A string of at most `max` characters; required ones must not be blank.
    pub fn string(&mut self, key: &str, required: bool, max: usize) -> Option<String> {
        match self.present(key, required)? {
            Value::String(s) if s.chars().count() > max => {
                self.reject(
                    key,
                    "too_long",
                    format!("{key} is longer than {max} characters"),
                );
                None
            }
            Value::String(s) if s.contains('\0') => {
                self.reject(
                    key,
                    "invalid_parameter",
                    format!("{key} may not contain NUL characters"),
                );
                None
            }
            Value::String(s) if required && s.trim().is_empty() => {
                self.reject(key, "missing_parameter", format!("{key} must not be blank"));
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.reject(key, "invalid_parameter", format!("{key} must be a string"));
                None
            }
        }
    }

    /// One of a fixed set of strings.
    pub fn choice(&mut self, key: &str, required: bool, allowed: &[&str]) -> Option<String> {
        let value = self.string(key, required, MAX_STRING)?;
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.reject(
                key,
                "invalid_parameter",
                format!("{key} must be one of: {}", allowed.join(", ")),
            );
            None
        }
    }

    /// An integer in `min..=max`.
    pub fn integer(&mut self, key: &str, required: bool, min: i64, max: i64) -> Option<i64> {
        match self.present(key, required)?.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.reject(
                    key,
                    "invalid_parameter",
                    format!("{key} must be an integer from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, key: &str, required: bool) -> Option<bool> {
        match self.present(key, required)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.reject(
                    key,
                    "invalid_parameter",
                    format!("{key} must be true or false"),
                );
                None
            }
        }
    }

    /// A list of at most `max_items` strings, each at most `max_len` characters.
    pub fn strings(
        &mut self,
        key: &str,
        required: bool,
        max_items: usize,
        max_len: usize,
    ) -> Option<Vec<String>> {
        let items = match self.present(key, required)? {
            Value::Array(items) if items.len() <= max_items => items,
            Value::Array(_) => {
                self.reject(
                    key,
                    "too_long",
                    format!("{key} has more than {max_items} items"),
                );
                return None;
            }
            _ => {
                self.reject(
                    key,
                    "invalid_parameter",
                    format!("{key} must be a list of strings"),
                );
                return None;
            }
        };
        let strings: Option<Vec<String>> = items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| s.chars().count() <= max_len)
                    .map(str::to_owned)
            })
            .collect();
        if strings.is_none() {
            self.reject(
                key,
                "invalid_parameter",
                format!("{key} must be a list of strings of at most {max_len} characters"),
            );
        }
        strings
    }

    /// Any JSON value whose serialised size is at most `max_bytes`.
    pub fn json(&mut self, key: &str, required: bool, max_bytes: usize) -> Option<Value> {
        let value = self.present(key, required)?;
        if value.to_string().len() > max_bytes {
            self.reject(
                key,
                "too_long",
                format!("{key} is larger than {max_bytes} bytes"),
            );
            return None;
        }
        Some(value.clone())
    }

    /// Fails with every collected problem, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
