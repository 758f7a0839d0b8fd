//! `%{…}` / `${…}` substitution in method parameters.
//!
//! (Placeholder: plain variable paths only; the full version replaces it.)

use serde_json::Value;

use crate::scope::Scope;

/// `value` with every string substituted ([`substitute_str`]), recursively through arrays and
/// objects.
pub fn substitute(value: &Value, scope: &Scope) -> Value {
    match value {
        Value::String(text) => substitute_str(text, scope),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, scope)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, scope)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A string with its `%{…}`/`${…}` replaced. A string that is exactly one `%{…}` keeps the
/// value's type (so an int parameter may be given as a variable); unset values become `""`.
pub fn substitute_str(text: &str, scope: &Scope) -> Value {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(['%', '$']) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = from
            .get(1..)
            .filter(|s| s.starts_with('{'))
            .and_then(|s| s.find('}'))
        else {
            out.push_str(&from[..1]);
            rest = &from[1..];
            continue;
        };
        let inner = &from[2..end + 1];
        let value = crate::expr::evaluate(inner, scope).unwrap_or(Value::Null);
        if before.is_empty() && out.is_empty() && end + 2 == from.len() {
            return match value {
                Value::Null => Value::String(String::new()),
                other => other,
            };
        }
        match value {
            Value::Null => {}
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &from[end + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}
