//! The supported methods: `toLowerCase`, `toUpperCase`, `trim`, `includes` (strings and
//! arrays), `startsWith` and `endsWith`.

use std::borrow::Cow;

use super::ExprError;
use super::ast::Method;
use super::ops::same_value_zero;
use super::value::{Js, is_js_whitespace};

/// `receiver.method(args…)`.
pub(super) fn call<'a>(
    method: Method,
    receiver: Js<'a>,
    args: &[Js<'a>],
) -> Result<Js<'a>, ExprError> {
    let name = method.name();
    match receiver {
        Js::String(text) => Ok(match method {
            Method::ToLowerCase => Js::String(Cow::Owned(text.to_lowercase())),
            Method::ToUpperCase => Js::String(Cow::Owned(text.to_uppercase())),
            Method::Trim => Js::String(Cow::Owned(text.trim_matches(is_js_whitespace).into())),
            Method::Includes => Js::Bool(text.contains(&*one_argument(method, args)?.to_text())),
            Method::StartsWith => {
                Js::Bool(text.starts_with(&*one_argument(method, args)?.to_text()))
            }
            Method::EndsWith => Js::Bool(text.ends_with(&*one_argument(method, args)?.to_text())),
        }),
        Js::Array(items) if method == Method::Includes => {
            let needle = one_argument(method, args)?;
            Ok(Js::Bool(
                items
                    .iter()
                    .any(|item| same_value_zero(&Js::from_json(item), needle)),
            ))
        }
        Js::Null => Err(ExprError::Type(format!("cannot call {name}() on null"))),
        other => Err(ExprError::Type(format!(
            "{name}() is not a method of {}",
            other.type_name()
        ))),
    }
}

/// The single argument of a searching method (the optional position argument is left out).
fn one_argument<'b, 'a>(method: Method, args: &'b [Js<'a>]) -> Result<&'b Js<'a>, ExprError> {
    match args {
        [arg] => Ok(arg),
        [] => Err(ExprError::Type(format!(
            "{}() needs an argument",
            method.name()
        ))),
        _ => Err(ExprError::Unsupported(format!(
            "a second argument to {}()",
            method.name()
        ))),
    }
}
