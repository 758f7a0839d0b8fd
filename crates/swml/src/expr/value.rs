//! Values while an expression runs, and JavaScript's conversions between them (ToNumber,
//! ToString, ToPrimitive, truthiness). Arrays and objects are only ever read from the scope, so
//! they stay borrowed; numbers are `f64` and may be `NaN` or infinite until the result is turned
//! into JSON.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// How deep nested arrays are joined into a string; deeper ones read as `""`.
const MAX_JOIN_DEPTH: usize = 32;

/// A value during evaluation. `undefined` does not exist here: it is [`Js::Null`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Js<'a> {
    /// `null`, and anything unset.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number, possibly `NaN` or infinite.
    Number(f64),
    /// A string.
    String(Cow<'a, str>),
    /// An array from the scope.
    Array(&'a Vec<Value>),
    /// An object from the scope.
    Object(&'a Map<String, Value>),
}

impl<'a> Js<'a> {
    /// A JSON value as seen by an expression.
    pub fn from_json(value: &'a Value) -> Js<'a> {
        match value {
            Value::Null => Js::Null,
            Value::Bool(b) => Js::Bool(*b),
            Value::Number(n) => Js::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Js::String(Cow::Borrowed(s)),
            Value::Array(items) => Js::Array(items),
            Value::Object(map) => Js::Object(map),
        }
    }

    /// The result as JSON: numbers that are not finite become `null`, integral ones integers.
    pub fn into_json(self) -> Value {
        match self {
            Js::Null => Value::Null,
            Js::Bool(b) => Value::Bool(b),
            Js::Number(n) => number_to_json(n),
            Js::String(s) => Value::String(s.into_owned()),
            Js::Array(items) => Value::Array(items.clone()),
            Js::Object(map) => Value::Object(map.clone()),
        }
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Js::Null => false,
            Js::Bool(b) => *b,
            Js::Number(n) => *n != 0.0 && !n.is_nan(),
            Js::String(s) => !s.is_empty(),
            Js::Array(_) | Js::Object(_) => true,
        }
    }

    /// Whether this is an array or an object (JavaScript's Object type).
    pub fn is_object(&self) -> bool {
        matches!(self, Js::Array(_) | Js::Object(_))
    }

    /// The type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Js::Null => "null",
            Js::Bool(_) => "a boolean",
            Js::Number(_) => "a number",
            Js::String(_) => "a string",
            Js::Array(_) => "an array",
            Js::Object(_) => "an object",
        }
    }

    /// ToPrimitive: arrays and objects become their strings; the rest stays.
    pub fn to_primitive(&self) -> Js<'a> {
        if self.is_object() {
            Js::String(self.to_text())
        } else {
            self.clone()
        }
    }

    /// ToNumber.
    pub fn to_number(&self) -> f64 {
        match self {
            Js::Null => 0.0,
            Js::Bool(b) => f64::from(u8::from(*b)),
            Js::Number(n) => *n,
            Js::String(s) => string_to_number(s),
            Js::Array(_) | Js::Object(_) => string_to_number(&self.to_text()),
        }
    }

    /// ToString (`null` is `"null"`, arrays are joined with `,`, objects are
    /// `"[object Object]"`).
    pub fn to_text(&self) -> Cow<'a, str> {
        match self {
            Js::Null => Cow::Borrowed("null"),
            Js::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Js::Number(n) => Cow::Owned(format_number(*n)),
            Js::String(s) => s.clone(),
            Js::Array(items) => Cow::Owned(join(items, 0)),
            Js::Object(_) => Cow::Borrowed("[object Object]"),
        }
    }
}

/// A number as JSON: `null` unless finite; an integer when integral and in `i64` range.
fn number_to_json(n: f64) -> Value {
    const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;
    if !n.is_finite() {
        Value::Null
    } else if n.fract() == 0.0 && (-I64_BOUND..I64_BOUND).contains(&n) {
        // Integral and in range, so the conversion is exact.
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// `Array.prototype.join(",")`: `null` elements are empty.
fn join(items: &[Value], depth: usize) -> String {
    if depth >= MAX_JOIN_DEPTH {
        return String::new();
    }
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => {}
            Value::Array(inner) => out.push_str(&join(inner, depth + 1)),
            other => out.push_str(&Js::from_json(other).to_text()),
        }
    }
    out
}

/// JavaScript's Number-to-String: `1` not `1.0`, `1e+21`, `1e-7`, `NaN`, `Infinity`.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    if (1e-6..1e21).contains(&n.abs()) {
        // Rust prints the shortest digits that round-trip, without an exponent.
        return format!("{n}");
    }
    let scientific = format!("{n:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => scientific,
    }
}

/// JavaScript's whitespace, which `trim` and ToNumber strip.
pub(super) fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// ToNumber of a string: decimal, `0x`/`0o`/`0b`, `Infinity`; empty is 0; anything else `NaN`.
fn string_to_number(text: &str) -> f64 {
    let text = text.trim_matches(is_js_whitespace);
    match text {
        "" => return 0.0,
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let radix = match text.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 10,
    };
    if radix != 10 {
        let digits = &text[2..];
        if digits.is_empty() {
            return f64::NAN;
        }
        return digits
            .chars()
            .try_fold(0.0, |acc, c| {
                c.to_digit(radix)
                    .map(|d| acc * f64::from(radix) + f64::from(d))
            })
            .unwrap_or(f64::NAN);
    }
    let decimal = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if decimal {
        text.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        for (n, text) in [
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "0"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-8, "-2.5e-8"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(format_number(n), text, "{n}");
        }
    }

    #[test]
    fn strings_convert_to_numbers_like_javascript() {
        for (text, n) in [
            ("", 0.0),
            ("  \n", 0.0),
            (" 42 ", 42.0),
            ("-1.5", -1.5),
            ("+.5", 0.5),
            ("1.", 1.0),
            ("1e3", 1000.0),
            ("0x1F", 31.0),
            ("0b101", 5.0),
            ("0o17", 15.0),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(string_to_number(text), n, "{text:?}");
        }
        for text in [
            "abc", "1a", "inf", "nan", "infinity", "0x", "0xZ", "1_000", "--1", ".",
        ] {
            assert!(string_to_number(text).is_nan(), "{text:?}");
        }
    }

    #[test]
    fn results_become_json() {
        assert_eq!(Js::Number(3.0).into_json(), json!(3));
        assert!(Js::Number(3.0).into_json().is_i64());
        assert_eq!(Js::Number(-0.0).into_json(), json!(0));
        assert_eq!(Js::Number(2.5).into_json(), json!(2.5));
        assert_eq!(Js::Number(f64::NAN).into_json(), Value::Null);
        assert_eq!(Js::Number(f64::INFINITY).into_json(), Value::Null);
        assert_eq!(Js::Number(1e300).into_json(), json!(1e300));
    }

    #[test]
    fn arrays_and_objects_convert_like_javascript() {
        let array = json!([1, "a", null, [2, [3]], true, {"k": 1}]);
        let js = Js::from_json(&array);
        assert_eq!(js.to_text(), "1,a,,2,3,true,[object Object]");
        assert!(js.to_number().is_nan());
        assert_eq!(Js::from_json(&json!([])).to_number(), 0.0);
        assert_eq!(Js::from_json(&json!([" 7 "])).to_number(), 7.0);
        assert_eq!(Js::from_json(&json!({})).to_text(), "[object Object]");
    }

    #[test]
    fn deeply_nested_arrays_join_without_recursing_forever() {
        let mut value = json!(1);
        for _ in 0..100 {
            value = json!([value]);
        }
        assert_eq!(Js::from_json(&value).to_text(), "");
        let mut shallow = json!(1);
        for _ in 0..10 {
            shallow = json!([shallow]);
        }
        assert_eq!(Js::from_json(&shallow).to_text(), "1");
    }

    #[test]
    fn truthiness() {
        assert!(!Js::Null.truthy());
        assert!(!Js::Number(0.0).truthy());
        assert!(!Js::Number(f64::NAN).truthy());
        assert!(!Js::String(Cow::Borrowed("")).truthy());
        assert!(Js::String(Cow::Borrowed("0")).truthy());
        assert!(Js::from_json(&json!([])).truthy());
        assert!(Js::from_json(&json!({})).truthy());
    }
}
