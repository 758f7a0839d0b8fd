//! Walks a syntax tree against a [`Scope`]. The tree's depth is capped by the parser, so the
//! recursion here is bounded.

use std::borrow::Cow;

use super::ast::{Expr, LogicalOp, Step, UnaryOp};
use super::value::Js;
use super::{ExprError, methods, ops};
use crate::scope::Scope;

/// The value of `expr`.
pub(super) fn evaluate<'a>(expr: &'a Expr<'_>, scope: &'a Scope) -> Result<Js<'a>, ExprError> {
    Ok(match expr {
        Expr::Null => Js::Null,
        Expr::Bool(b) => Js::Bool(*b),
        Expr::Number(n) => Js::Number(*n),
        Expr::String(s) => Js::String(Cow::Borrowed(s)),
        Expr::Path { root, steps } => path(root, steps, scope)?,
        Expr::Member { object, step } => {
            let object = evaluate(object, scope)?;
            let key = key(step, scope)?;
            property(object, &key).unwrap_or(Js::Null)
        }
        Expr::Call {
            object,
            method,
            args,
        } => {
            let receiver = evaluate(object, scope)?;
            let args = args
                .iter()
                .map(|arg| evaluate(arg, scope))
                .collect::<Result<Vec<_>, _>>()?;
            methods::call(*method, receiver, &args)?
        }
        Expr::Unary { op, operand } => {
            let value = evaluate(operand, scope)?;
            match op {
                UnaryOp::Not => Js::Bool(!value.truthy()),
                UnaryOp::Negate => Js::Number(-value.to_number()),
                UnaryOp::Plus => Js::Number(value.to_number()),
            }
        }
        Expr::Binary { op, left, right } => {
            let left = evaluate(left, scope)?;
            let right = evaluate(right, scope)?;
            ops::binary(*op, &left, &right)
        }
        Expr::Logical { op, left, right } => {
            let left = evaluate(left, scope)?;
            let done = match op {
                LogicalOp::And => !left.truthy(),
                LogicalOp::Or => left.truthy(),
            };
            if done { left } else { evaluate(right, scope)? }
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => {
            if evaluate(test, scope)?.truthy() {
                evaluate(then, scope)?
            } else {
                evaluate(otherwise, scope)?
            }
        }
    })
}

/// A variable and its properties: a scope's (`call.x`), or a bare name's, looked up in `vars`,
/// then `envs`, then `call`, as [`Scope::lookup`] does. Unset is `null`.
fn path<'a>(root: &'a str, steps: &'a [Step<'_>], scope: &'a Scope) -> Result<Js<'a>, ExprError> {
    let keys = steps
        .iter()
        .map(|step| key(step, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let found = match root {
        "call" => walk(Js::from_json(&scope.call), &keys),
        "params" => walk(Js::from_json(&scope.params), &keys),
        "envs" => walk(Js::from_json(&scope.envs), &keys),
        "vars" => walk(Js::Object(&scope.vars), &keys),
        name => {
            let bare = |root: Js<'a>| property(root, name).and_then(|value| walk(value, &keys));
            bare(Js::Object(&scope.vars))
                .or_else(|| bare(Js::from_json(&scope.envs)))
                .or_else(|| bare(Js::from_json(&scope.call)))
        }
    };
    Ok(found.unwrap_or(Js::Null))
}

/// The property name a step reads: `.name`, or `[expression]` converted to a string.
fn key<'a>(step: &'a Step<'_>, scope: &'a Scope) -> Result<Cow<'a, str>, ExprError> {
    Ok(match step {
        Step::Key(name) => Cow::Borrowed(name),
        Step::Computed(index) => evaluate(index, scope)?.to_text(),
    })
}

fn walk<'a>(mut value: Js<'a>, keys: &[Cow<'_, str>]) -> Option<Js<'a>> {
    for key in keys {
        value = property(value, key)?;
    }
    Some(value)
}

/// A property: an object's key, an array's element or `length`, a string's UTF-16 unit or
/// `length`; `None` when there is none.
fn property<'a>(value: Js<'a>, key: &str) -> Option<Js<'a>> {
    match value {
        Js::Object(map) => map.get(key).map(Js::from_json),
        Js::Array(items) if key == "length" => Some(Js::Number(items.len() as f64)),
        Js::Array(items) => items.get(array_index(key)?).map(Js::from_json),
        Js::String(text) if key == "length" => Some(Js::Number(text.encode_utf16().count() as f64)),
        Js::String(text) => {
            let unit = text.encode_utf16().nth(array_index(key)?)?;
            let c = char::decode_utf16([unit])
                .next()
                .and_then(Result::ok)
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            Some(Js::String(Cow::Owned(c.to_string())))
        }
        Js::Null | Js::Bool(_) | Js::Number(_) => None,
    }
}

/// The index a property name denotes: a canonical non-negative integer (`"2"`, not `"02"`).
fn array_index(key: &str) -> Option<usize> {
    let index: usize = key.parse().ok()?;
    (index.to_string() == key).then_some(index)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn property_json(value: &Value, key: &str) -> Option<Value> {
        property(Js::from_json(value), key).map(Js::into_json)
    }

    #[test]
    fn properties_of_each_type() {
        let object = json!({"a": 1, "length": "own"});
        assert_eq!(property_json(&object, "a"), Some(json!(1)));
        assert_eq!(property_json(&object, "length"), Some(json!("own")));
        assert_eq!(property_json(&object, "b"), None);
        let array = json!(["x", "y"]);
        assert_eq!(property_json(&array, "length"), Some(json!(2)));
        assert_eq!(property_json(&array, "1"), Some(json!("y")));
        assert_eq!(property_json(&array, "01"), None);
        assert_eq!(property_json(&array, "2"), None);
        assert_eq!(property_json(&array, "-1"), None);
        let text = json!("h😀");
        assert_eq!(property_json(&text, "length"), Some(json!(3)));
        assert_eq!(property_json(&text, "0"), Some(json!("h")));
        assert_eq!(property_json(&text, "1"), Some(json!("\u{fffd}")));
        assert_eq!(property_json(&text, "3"), None);
        assert_eq!(property_json(&json!(5), "length"), None);
        assert_eq!(property_json(&Value::Null, "x"), None);
    }
}
