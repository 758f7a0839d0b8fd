//! `%{…}` / `${…}` substitution in method parameters (the two spellings are the same).
//!
//! - A placeholder holding a variable path (`%{call.from}`, `${vars.list[0].name}`,
//!   `%{vars.caller-id}`: see [`parse_path`]) is replaced by the variable's value
//!   ([`Scope::lookup`]); anything else is evaluated as an expression ([`crate::expr`]), so
//!   subtraction needs spaces or a non-path operand (`%{vars.a - b}`). Unset variables, `null`, non-finite numbers and expressions that fail
//!   become `""`; the failures are reported by the `_checked` functions.
//! - A string that is exactly one placeholder keeps the value's type: numbers stay numbers,
//!   objects stay objects (so an int parameter may be given as a variable).
//! - Inside other text, strings are inserted as they are, numbers as JavaScript prints them
//!   (`1`, `1.5`), booleans as `true`/`false`, and arrays and objects as JSON.
//! - A `$` or `%` not followed by `{` is plain text. A placeholder that is never closed is plain
//!   text too (reported). The closing brace is found outside string literals, so
//!   `%{x == '}' ? 1 : 2}` works. Values are not substituted again.
//! - Arrays and objects are substituted recursively; object keys are left as they are.

mod scan;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::expr::{self, ExprError, format_number};
use crate::scope::{Scope, Step, parse_path};

use scan::Found;

/// A placeholder whose expression could not be evaluated; it was replaced by `""`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{placeholder}`: {error}")]
pub struct SubstError {
    /// The placeholder as written, `%{` (or `${`) to `}`, or to the end when never closed.
    pub placeholder: String,
    /// Why it failed.
    pub error: ExprError,
}

/// `value` with every string substituted ([`substitute_str`]), recursively through arrays and
/// objects.
pub fn substitute(value: &Value, scope: &Scope) -> Value {
    substitute_checked(value, scope).0
}

/// A string with its `%{…}`/`${…}` replaced. A string that is exactly one `%{…}` keeps the
/// value's type (so an int parameter may be given as a variable); unset values become `""`.
pub fn substitute_str(text: &str, scope: &Scope) -> Value {
    substitute_str_checked(text, scope).0
}

/// [`substitute`], also returning the placeholders that failed, for the call's log.
pub fn substitute_checked(value: &Value, scope: &Scope) -> (Value, Vec<SubstError>) {
    let mut errors = Vec::new();
    let value = substitute_value(value, scope, &mut errors);
    (value, errors)
}

/// [`substitute_str`], also returning the placeholders that failed, for the call's log.
pub fn substitute_str_checked(text: &str, scope: &Scope) -> (Value, Vec<SubstError>) {
    let mut errors = Vec::new();
    let value = substitute_text(text, scope, &mut errors);
    (value, errors)
}

fn substitute_value(value: &Value, scope: &Scope, errors: &mut Vec<SubstError>) -> Value {
    match value {
        Value::String(text) => substitute_text(text, scope, errors),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_value(item, scope, errors))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), substitute_value(item, scope, errors)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn substitute_text(text: &str, scope: &Scope, errors: &mut Vec<SubstError>) -> Value {
    if whole_placeholder(text).is_some() {
        return match resolve(text, scope, errors) {
            Value::Null => Value::String(String::new()),
            typed => typed,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        match scan::next(rest) {
            Some(Found::Placeholder { start, end }) => {
                out.push_str(&rest[..start]);
                push_value(&mut out, &resolve(&rest[start..end], scope, errors));
                rest = &rest[end..];
            }
            Some(Found::Unterminated { start }) => {
                errors.push(SubstError {
                    placeholder: rest[start..].to_owned(),
                    error: ExprError::Syntax {
                        position: rest.len() - start - 2,
                        message: "placeholder never closed with `}`".into(),
                    },
                });
                out.push_str(rest);
                break;
            }
            None => {
                out.push_str(rest);
                break;
            }
        }
    }
    Value::String(out)
}

/// Whether `text` has a `%{…}`/`${…}` placeholder (closed or not).
pub fn has_placeholder(text: &str) -> bool {
    scan::next(text).is_some()
}

/// The expression of a string that is exactly one `%{…}`/`${…}` placeholder.
pub fn whole_placeholder(text: &str) -> Option<&str> {
    match scan::next(text)? {
        Found::Placeholder { start: 0, end } if end == text.len() => Some(scan::inner(text)),
        _ => None,
    }
}

/// The value of what is inside a placeholder, as substitution sees it: a variable path's value
/// (`null` when unset, with no error: `%{vars.caller-id}` is a path), or else the expression's.
pub fn placeholder_value(source: &str, scope: &Scope) -> Result<Value, ExprError> {
    if is_variable_path(source) {
        return Ok(scope.lookup(source).cloned().unwrap_or(Value::Null));
    }
    expr::evaluate(source, scope)
}

/// The value of one placeholder, `null` when it fails, the failure being recorded.
fn resolve(placeholder: &str, scope: &Scope, errors: &mut Vec<SubstError>) -> Value {
    placeholder_value(scan::inner(placeholder), scope).unwrap_or_else(|error| {
        errors.push(SubstError {
            placeholder: placeholder.to_owned(),
            error,
        });
        Value::Null
    })
}

/// Whether `source` is a variable path ([`parse_path`]; so `vars.caller-id` is one) that starts
/// with a name, as opposed to a literal such as `1.5` or `true`.
fn is_variable_path(source: &str) -> bool {
    let Some(steps) = parse_path(source) else {
        return false;
    };
    matches!(
        steps.first(),
        Some(Step::Key(name))
            if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && !matches!(*name, "true" | "false" | "null" | "undefined")
    )
}

/// Appends a value inside text: strings as they are, numbers as JavaScript prints them, arrays
/// and objects as JSON, `null` as nothing.
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&format_number(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(_) | Value::Object(_) => out.push_str(&value.to_string()),
    }
}
