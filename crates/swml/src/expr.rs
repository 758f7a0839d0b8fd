//! The expression language of `when`, `cond` and `%{…}`.
//!
//! (Placeholder: plain variable paths only; the evaluator replaces it.)

use serde_json::Value;

use crate::scope::Scope;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The expression uses something the evaluator does not support.
    #[error("unsupported expression: {0}")]
    Unsupported(String),
}

/// Evaluates `source` against `scope`.
pub fn evaluate(source: &str, scope: &Scope) -> Result<Value, ExprError> {
    if crate::scope::parse_path(source).is_some() {
        return Ok(scope.lookup(source).cloned().unwrap_or(Value::Null));
    }
    Err(ExprError::Unsupported(source.to_owned()))
}

/// JavaScript truthiness: `false`, `0`, `""`, `null` (and unset) are false; the rest is true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
