//! JavaScript's binary operators other than `&&` and `||` (which short-circuit, so the
//! evaluator handles them): arithmetic, concatenation, comparison and equality.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ast::BinaryOp;
use super::value::Js;

/// `left op right`, both operands evaluated.
pub(super) fn binary<'a>(op: BinaryOp, left: &Js<'a>, right: &Js<'a>) -> Js<'a> {
    let number = |f: fn(f64, f64) -> f64| Js::Number(f(left.to_number(), right.to_number()));
    let ordered = |accept: fn(Ordering) -> bool| Js::Bool(compare(left, right).is_some_and(accept));
    match op {
        BinaryOp::Add => add(left, right),
        BinaryOp::Subtract => number(|a, b| a - b),
        BinaryOp::Multiply => number(|a, b| a * b),
        BinaryOp::Divide => number(|a, b| a / b),
        BinaryOp::Remainder => number(|a, b| a % b),
        BinaryOp::LooseEqual => Js::Bool(loose_equal(left, right)),
        BinaryOp::LooseNotEqual => Js::Bool(!loose_equal(left, right)),
        BinaryOp::StrictEqual => Js::Bool(strict_equal(left, right)),
        BinaryOp::StrictNotEqual => Js::Bool(!strict_equal(left, right)),
        BinaryOp::Less => ordered(Ordering::is_lt),
        BinaryOp::LessEqual => ordered(Ordering::is_le),
        BinaryOp::Greater => ordered(Ordering::is_gt),
        BinaryOp::GreaterEqual => ordered(Ordering::is_ge),
    }
}

/// `+`: concatenation when either primitive is a string, addition otherwise.
fn add<'a>(left: &Js<'a>, right: &Js<'a>) -> Js<'a> {
    let (left, right) = (left.to_primitive(), right.to_primitive());
    if matches!(left, Js::String(_)) || matches!(right, Js::String(_)) {
        let mut text = left.to_text().into_owned();
        text.push_str(&right.to_text());
        return Js::String(Cow::Owned(text));
    }
    Js::Number(left.to_number() + right.to_number())
}

/// The relational comparison: strings by UTF-16 units, anything else as numbers; `None` when
/// a number is `NaN`.
fn compare(left: &Js<'_>, right: &Js<'_>) -> Option<Ordering> {
    match (left.to_primitive(), right.to_primitive()) {
        (Js::String(a), Js::String(b)) => Some(a.encode_utf16().cmp(b.encode_utf16())),
        (a, b) => a.to_number().partial_cmp(&b.to_number()),
    }
}

/// `===`: same type and value; arrays and objects only equal themselves.
pub(super) fn strict_equal(left: &Js<'_>, right: &Js<'_>) -> bool {
    match (left, right) {
        (Js::Null, Js::Null) => true,
        (Js::Bool(a), Js::Bool(b)) => a == b,
        (Js::Number(a), Js::Number(b)) => a == b,
        (Js::String(a), Js::String(b)) => a == b,
        (Js::Array(a), Js::Array(b)) => std::ptr::eq(*a, *b),
        (Js::Object(a), Js::Object(b)) => std::ptr::eq(*a, *b),
        _ => false,
    }
}

/// SameValueZero, as `Array.prototype.includes` compares: `===` except that `NaN` equals
/// itself.
pub(super) fn same_value_zero(left: &Js<'_>, right: &Js<'_>) -> bool {
    match (left, right) {
        (Js::Number(a), Js::Number(b)) if a.is_nan() && b.is_nan() => true,
        _ => strict_equal(left, right),
    }
}

/// `==`: JavaScript's IsLooselyEqual.
pub(super) fn loose_equal(left: &Js<'_>, right: &Js<'_>) -> bool {
    match (left, right) {
        (Js::Null, Js::Null) => true,
        (Js::Null, _) | (_, Js::Null) => false,
        (Js::Number(_), Js::String(_)) | (Js::String(_), Js::Number(_)) => {
            left.to_number() == right.to_number()
        }
        (Js::Bool(_), _) => loose_equal(&Js::Number(left.to_number()), right),
        (_, Js::Bool(_)) => loose_equal(left, &Js::Number(right.to_number())),
        _ if left.is_object() != right.is_object() => {
            loose_equal(&left.to_primitive(), &right.to_primitive())
        }
        _ => strict_equal(left, right),
    }
}
