//! Typed reads of a method's substituted parameters.
//!
//! Substitution turns every `%{…}` inside a longer string into text, so a number or a boolean
//! may arrive as a string (`"3"`, `"true"`): both forms are accepted. An empty string (an unset
//! variable) counts as absent for typed parameters, so the default applies.

use std::time::Duration;

use serde_json::{Map, Value};

/// Why a parameter cannot be used: which one, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParamError {
    /// The parameter's name (empty for the method's value as a whole).
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.param.as_str() {
            "" => f.write_str(&self.message),
            param => write!(f, "{param}: {}", self.message),
        }
    }
}

impl ParamError {
    pub(super) fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

/// The parameters of one method: an object (a missing or `null` value reads as empty).
pub(super) struct Params<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Params<'a> {
    /// Reads `value` as an object of parameters.
    pub(super) fn new(value: &'a Value) -> Result<Self, ParamError> {
        match value {
            Value::Object(map) => Ok(Self { map: Some(map) }),
            Value::Null => Ok(Self { map: None }),
            _ => Err(ParamError::new("", "expects an object of parameters")),
        }
    }

    /// The raw value of `key`; `null` is absent.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    /// A typed value: absent when missing, `null` or `""`.
    fn typed(&self, key: &str) -> Option<&'a Value> {
        self.get(key).filter(|v| v.as_str() != Some(""))
    }

    /// A string (numbers and booleans are written out).
    pub(super) fn string(&self, key: &str) -> Result<Option<String>, ParamError> {
        self.get(key)
            .map(|v| text(v).ok_or_else(|| ParamError::new(key, "expects a string")))
            .transpose()
    }

    /// A string that must be present and non-empty.
    pub(super) fn required_string(&self, key: &str) -> Result<String, ParamError> {
        match self.string(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ParamError::new(key, "is required")),
        }
    }

    /// A boolean (`true`/`false`, also as strings).
    pub(super) fn boolean(&self, key: &str, default: bool) -> Result<bool, ParamError> {
        match self.typed(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.trim() == "true" => Ok(true),
            Some(Value::String(s)) if s.trim() == "false" => Ok(false),
            Some(_) => Err(ParamError::new(key, "expects true or false")),
        }
    }

    /// A finite number.
    pub(super) fn number(&self, key: &str) -> Result<Option<f64>, ParamError> {
        self.typed(key)
            .map(|v| number(v).ok_or_else(|| ParamError::new(key, "expects a number")))
            .transpose()
    }

    /// A number within `min..=max`, or `default`.
    pub(super) fn number_in(
        &self,
        key: &str,
        min: f64,
        max: f64,
        default: f64,
    ) -> Result<f64, ParamError> {
        match self.number(key)? {
            None => Ok(default),
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(_) => Err(ParamError::new(
                key,
                format!("expects a number from {min} to {max}"),
            )),
        }
    }

    /// A whole number ≥ `min`, or `default`.
    pub(super) fn count(&self, key: &str, min: u32, default: u32) -> Result<u32, ParamError> {
        match self.number(key)? {
            None => Ok(default),
            Some(n) if n.fract() == 0.0 && n >= f64::from(min) && n <= f64::from(u32::MAX) => {
                Ok(n as u32)
            }
            Some(_) => Err(ParamError::new(
                key,
                format!("expects a whole number of at least {min}"),
            )),
        }
    }

    /// A duration given in seconds (fractions allowed), or `default`.
    pub(super) fn seconds(&self, key: &str, default: Duration) -> Result<Duration, ParamError> {
        Ok(self.optional_seconds(key)?.unwrap_or(default))
    }

    /// A duration given in seconds, if present.
    pub(super) fn optional_seconds(&self, key: &str) -> Result<Option<Duration>, ParamError> {
        self.number(key)?
            .map(|n| {
                Duration::try_from_secs_f64(n)
                    .map_err(|_| ParamError::new(key, "expects a number of seconds ≥ 0"))
            })
            .transpose()
    }

    /// A string or an array of strings.
    pub(super) fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ParamError> {
        self.get(key).map(|v| strings(v, key)).transpose()
    }
}

/// A value as text: strings as they are, numbers and booleans written out.
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A finite number, also from a string.
pub(super) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// A string or an array of strings, as a list.
pub(super) fn strings(value: &Value, key: &str) -> Result<Vec<String>, ParamError> {
    let list = match value {
        Value::Array(items) => items
            .iter()
            .map(text)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ParamError::new(key, "expects strings"))?,
        other => vec![text(other).ok_or_else(|| ParamError::new(key, "expects a string"))?],
    };
    Ok(list)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_and_booleans_may_come_as_strings() {
        let value = json!({"n": "3", "b": "true", "f": 2.5, "empty": "", "null": null});
        let p = Params::new(&value).unwrap();
        assert_eq!(p.count("n", 1, 9), Ok(3));
        assert_eq!(p.boolean("b", false), Ok(true));
        assert_eq!(
            p.seconds("f", Duration::ZERO),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(p.count("empty", 1, 9), Ok(9));
        assert_eq!(p.boolean("null", true), Ok(true));
        assert_eq!(p.string("null"), Ok(None));
        assert_eq!(p.string("n"), Ok(Some("3".into())));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let value = json!({"n": "three", "neg": -1, "frac": 1.5, "list": [1, {}], "vol": 50});
        let p = Params::new(&value).unwrap();
        assert_eq!(p.count("n", 1, 1).unwrap_err().param, "n");
        assert_eq!(p.seconds("neg", Duration::ZERO).unwrap_err().param, "neg");
        assert!(p.count("frac", 0, 1).is_err());
        assert!(p.count("neg", 0, 1).is_err());
        assert!(p.strings("list").is_err());
        assert!(p.number_in("vol", -40.0, 40.0, 0.0).is_err());
        assert!(p.required_string("missing").is_err());
        assert!(Params::new(&json!("x")).is_err());
    }

    #[test]
    fn a_string_or_a_list_of_strings() {
        let value = json!({"one": "a", "many": ["a", 2]});
        let p = Params::new(&value).unwrap();
        assert_eq!(p.strings("one"), Ok(Some(vec!["a".into()])));
        assert_eq!(p.strings("many"), Ok(Some(vec!["a".into(), "2".into()])));
        assert_eq!(p.strings("none"), Ok(None));
    }
}
