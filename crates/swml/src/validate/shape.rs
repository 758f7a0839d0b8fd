//! Generic checks of parameter objects: which keys they may have, which they must have, and
//! what type (and range) each value has.

use serde_json::{Map, Value};

use super::Invalid;
use super::path::Path;
use super::structure::Cx;

/// The result of one check.
pub(crate) type Check = Result<(), Invalid>;

/// A custom check of one value.
pub(crate) type CheckFn = fn(&Value, &Path, &Cx) -> Check;

/// What one parameter's value must be.
pub(crate) enum Kind {
    /// A string.
    Str,
    /// An array of strings.
    Strings,
    /// An object whose values are strings.
    StrMap,
    /// An object (any members).
    Object,
    /// An integer in `min..=max`, or a variable.
    Int { min: i64, max: i64 },
    /// A number in `min..=max`, or a variable.
    Num { min: f64, max: f64 },
    /// A boolean, or a variable.
    Bool,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Checked by this function.
    With(CheckFn),
}

/// Any integer, or a variable.
pub(crate) const INT: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};

/// Any number, or a variable.
pub(crate) const NUM: Kind = Kind::Num {
    min: f64::NEG_INFINITY,
    max: f64::INFINITY,
};

/// One parameter a method takes.
pub(crate) struct Param {
    /// Its key.
    pub(crate) name: &'static str,
    /// What its value must be.
    pub(crate) kind: Kind,
}

/// Shorthand for a [`Param`].
pub(crate) const fn param(name: &'static str, kind: Kind) -> Param {
    Param { name, kind }
}

/// The usual check of a parameter object: an object (of `owner`, e.g. "`play`") with only the
/// keys in `specs`, every key in `required`, and every value of its [`Kind`].
pub(crate) fn fields(
    value: &Value,
    at: &Path,
    owner: &str,
    specs: &[&[Param]],
    required: &[&str],
    cx: &Cx,
) -> Check {
    let map = known(value, at, owner, specs)?;
    require(map, at, required)?;
    kinds(map, at, specs, cx)
}

/// `value` as an object whose keys are all in `specs`.
pub(crate) fn known<'v>(
    value: &'v Value,
    at: &Path,
    owner: &str,
    specs: &[&[Param]],
) -> Result<&'v Map<String, Value>, Invalid> {
    let map = object(value, at)?;
    for key in map.keys() {
        let listed = specs.iter().flat_map(|s| s.iter()).any(|p| p.name == key);
        if !listed {
            let names: Vec<&str> = specs
                .iter()
                .flat_map(|s| s.iter())
                .map(|p| p.name)
                .collect();
            let takes = if names.is_empty() {
                "no parameters".to_owned()
            } else {
                names.join(", ")
            };
            return Err(at
                .key(key)
                .invalid(format!("unknown parameter; {owner} takes {takes}")));
        }
    }
    Ok(map)
}

/// Fails at the first name in `required` that `map` lacks.
pub(crate) fn require(map: &Map<String, Value>, at: &Path, required: &[&str]) -> Check {
    match required.iter().find(|name| !map.contains_key(**name)) {
        Some(name) => Err(at.invalid(format!("missing required parameter `{name}`"))),
        None => Ok(()),
    }
}

/// The one key of `names` that `map` has; fails when it has none or several.
pub(crate) fn exactly_one(
    map: &Map<String, Value>,
    at: &Path,
    names: &[&'static str],
) -> Result<&'static str, Invalid> {
    let present: Vec<&'static str> = names
        .iter()
        .copied()
        .filter(|name| map.contains_key(*name))
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        _ => {
            let expected = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let found = if present.is_empty() {
                "none".to_owned()
            } else {
                present.join(" and ")
            };
            Err(at.invalid(format!("expected exactly one of {expected}; found {found}")))
        }
    }
}

/// Checks each present parameter of `specs`, in the order listed.
pub(crate) fn kinds(map: &Map<String, Value>, at: &Path, specs: &[&[Param]], cx: &Cx) -> Check {
    for spec in specs.iter().flat_map(|s| s.iter()) {
        if let Some(value) = map.get(spec.name) {
            check(value, &at.key(spec.name), &spec.kind, cx)?;
        }
    }
    Ok(())
}

/// Checks one value against a [`Kind`].
pub(crate) fn check(value: &Value, at: &Path, kind: &Kind, cx: &Cx) -> Check {
    match kind {
        Kind::Str => string(value, at).map(drop),
        Kind::Strings => strings(value, at),
        Kind::StrMap => {
            for (key, item) in object(value, at)? {
                string(item, &at.key(key))?;
            }
            Ok(())
        }
        Kind::Object => object(value, at).map(drop),
        Kind::Int { min, max } => integer(value, at, *min, *max),
        Kind::Num { min, max } => number(value, at, *min, *max),
        Kind::Bool => match value {
            Value::Bool(_) => Ok(()),
            Value::String(text) if is_var(text) => Ok(()),
            other => Err(at.invalid(format!(
                "expected true, false or a variable such as \"%{{vars.flag}}\", got {}",
                describe(other)
            ))),
        },
        Kind::OneOf(options) => one_of(value, at, options),
        Kind::With(check_fn) => check_fn(value, at, cx),
    }
}

/// `value` as an object.
pub(crate) fn object<'v>(value: &'v Value, at: &Path) -> Result<&'v Map<String, Value>, Invalid> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(at.invalid(format!("expected an object, got {}", describe(other)))),
    }
}

/// `value` as a string.
pub(crate) fn string<'v>(value: &'v Value, at: &Path) -> Result<&'v str, Invalid> {
    match value {
        Value::String(text) => Ok(text),
        Value::Number(_) => Err(at.invalid(format!(
            "expected a string, got {} (in YAML, quote numbers such as phone numbers)",
            describe(value)
        ))),
        other => Err(at.invalid(format!("expected a string, got {}", describe(other)))),
    }
}

/// An array of strings.
pub(crate) fn strings(value: &Value, at: &Path) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of strings, got {}",
            describe(value)
        )));
    };
    for (index, item) in items.iter().enumerate() {
        string(item, &at.index(index))?;
    }
    Ok(())
}

/// One of `options`.
pub(crate) fn one_of(value: &Value, at: &Path, options: &[&str]) -> Check {
    if let Value::String(text) = value
        && options.contains(&text.as_str())
    {
        return Ok(());
    }
    let expected = options
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Err(at.invalid(format!(
        "expected one of {expected}, got {}",
        describe(value)
    )))
}

/// An integer in `min..=max`, or a variable.
fn integer(value: &Value, at: &Path, min: i64, max: i64) -> Check {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            let in_range = n.as_i64().is_some_and(|v| (min..=max).contains(&v));
            if in_range {
                Ok(())
            } else {
                Err(at.invalid(format!(
                    "expected an integer {}, got {n}",
                    range(min, max, i64::MIN, i64::MAX)
                )))
            }
        }
        Value::String(text) if is_var(text) => Ok(()),
        other => Err(at.invalid(format!(
            "expected an integer or a variable such as \"%{{vars.n}}\", got {}",
            describe(other)
        ))),
    }
}

/// A number in `min..=max`, or a variable.
fn number(value: &Value, at: &Path, min: f64, max: f64) -> Check {
    match value {
        Value::Number(n) => {
            let in_range = n.as_f64().is_some_and(|v| v >= min && v <= max);
            if in_range {
                Ok(())
            } else {
                Err(at.invalid(format!(
                    "expected a number {}, got {n}",
                    range(min, max, f64::NEG_INFINITY, f64::INFINITY)
                )))
            }
        }
        Value::String(text) if is_var(text) => Ok(()),
        other => Err(at.invalid(format!(
            "expected a number or a variable such as \"%{{vars.n}}\", got {}",
            describe(other)
        ))),
    }
}

/// "from 1 to 100", "at least -1", "at most 40" (the bounds equal to `none_min`/`none_max` are
/// left out).
fn range<T: PartialEq + std::fmt::Display>(min: T, max: T, none_min: T, none_max: T) -> String {
    match (min != none_min, max != none_max) {
        (true, true) => format!("from {min} to {max}"),
        (true, false) => format!("of at least {min}"),
        (false, true) => format!("of at most {max}"),
        (false, false) => String::new(),
    }
}

/// A SWML variable reference: `%{…}` or `${…}` as the whole string (the schema's `SWMLVar`,
/// `^[$%]\{.*\}$`). It stands for a value of any type, substituted when the method runs.
pub(crate) fn is_var(text: &str) -> bool {
    (text.starts_with("%{") || text.starts_with("${")) && text.len() >= 3 && text.ends_with('}')
}

/// Whether `text` contains a `%{…}`/`${…}` substitution anywhere.
pub(crate) fn has_var(text: &str) -> bool {
    text.contains("%{") || text.contains("${")
}

/// A short description of a value for error messages: `the number 5`, `the string "x"`, …
pub(crate) fn describe(value: &Value) -> String {
    const SHOWN: usize = 40;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(text) => {
            let mut shown: String = text.chars().take(SHOWN).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("the string {}", Value::from(shown))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, has_var, is_var};
    use serde_json::json;

    #[test]
    fn variables_are_whole_string_references() {
        assert!(is_var("%{vars.n}"));
        assert!(is_var("${params.max}"));
        assert!(!is_var("%{}x"));
        assert!(!is_var("%{"));
        assert!(!is_var("5"));
        assert!(!is_var("x%{vars.n}"));
        assert!(has_var("x%{vars.n}"));
        assert!(!has_var("100%"));
    }

    #[test]
    fn describes_values_briefly() {
        assert_eq!(describe(&json!(5)), "the number 5");
        assert_eq!(describe(&json!("ab")), "the string \"ab\"");
        assert_eq!(describe(&json!("x".repeat(50))).chars().count(), 40 + 14);
        assert_eq!(describe(&json!([1])), "an array");
        assert_eq!(describe(&json!(null)), "null");
    }
}
