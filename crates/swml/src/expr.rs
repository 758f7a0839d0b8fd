//! The expression language of `when`, `cond` and `%{…}`: a small, safe subset of JavaScript
//! with JavaScript semantics. Nothing in it executes code, allocates without bound or recurses
//! without bound: sources are capped at [`MAX_SOURCE_LEN`] bytes and nesting at [`MAX_DEPTH`].
//!
//! Grammar (lowest precedence first; binary operators are left-associative):
//!
//! ```text
//! expression  = logical_or [ "?" expression ":" expression ]
//! logical_or  = logical_and { "||" logical_and }
//! logical_and = equality { "&&" equality }
//! equality    = relational { ( "==" | "!=" | "===" | "!==" ) relational }
//! relational  = additive { ( "<" | "<=" | ">" | ">=" ) additive }
//! additive    = term { ( "+" | "-" ) term }
//! term        = unary { ( "*" | "/" | "%" ) unary }
//! unary       = ( "!" | "-" | "+" ) unary | postfix
//! postfix     = primary { "." name | "[" expression "]" | "." method "(" [ expression ] ")" }
//! primary     = number | string | "true" | "false" | "null" | "undefined"
//!             | identifier | "(" expression ")"
//! method      = "toLowerCase" | "toUpperCase" | "trim" | "includes" | "startsWith" | "endsWith"
//! ```
//!
//! - Numbers: `12`, `1.5`, `.5`, `1e3`. Strings: `'…'` or `"…"` with JavaScript escapes.
//! - Identifiers: `call`, `params`, `vars` and `envs` are the scopes; any other name is looked up
//!   in `vars`, then `envs`, then `call` (as [`Scope::lookup`] does). Anything unset, and any
//!   property of `null`, is `null`: `undefined` and `null` are the same value here.
//! - `.length` of strings (UTF-16 units) and arrays; `[i]` on arrays and strings; `[key]` on
//!   objects. `includes` also works on arrays; the other methods need a string, otherwise they are
//!   an [`ExprError::Type`]. `includes`, `startsWith` and `endsWith` take exactly one argument.
//! - `+` concatenates when either side is a string (or an array or object, as in JavaScript);
//!   `==`/`!=` are JavaScript's loose equality, `===`/`!==` the strict one (arrays and objects
//!   are equal only to themselves); `<`… compare strings by UTF-16 units and anything else as
//!   numbers; `&&`/`||` return an operand, not a boolean.
//! - Results: a number that is not finite (`1/0`, `0/0`) becomes `null`, since JSON has no
//!   `NaN` or `Infinity`; inside the expression it behaves as in JavaScript (`1/0 > 1` is true).
//! - Anything else (assignment, function calls, other methods, `typeof`, `new`, `??`, `?.`,
//!   template literals, regular expressions, array or object literals, …) is
//!   [`ExprError::Unsupported`].

mod ast;
mod eval;
mod lexer;
mod methods;
mod ops;
mod parser;
mod value;

#[cfg(test)]
pub(crate) mod tests;

use serde_json::Value;

use crate::scope::Scope;

pub(crate) use value::format_number;

/// The longest expression source accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 4096;

/// The deepest nesting accepted: parentheses, operators, member accesses and calls each count.
pub const MAX_DEPTH: usize = 64;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The expression uses something the evaluator does not support.
    #[error("unsupported expression: {0}")]
    Unsupported(String),
    /// The expression is not well formed; `position` is a byte offset into the source.
    #[error("syntax error at {position}: {message}")]
    Syntax {
        /// The byte offset of the offending token.
        position: usize,
        /// What is wrong there.
        message: String,
    },
    /// The source is longer than [`MAX_SOURCE_LEN`].
    #[error("expression too long: {len} bytes (the limit is {MAX_SOURCE_LEN})")]
    TooLong {
        /// The source length in bytes.
        len: usize,
    },
    /// The expression nests deeper than [`MAX_DEPTH`].
    #[error("expression nested too deeply (the limit is {MAX_DEPTH})")]
    TooDeep,
    /// A value of the wrong type for an operation, such as a method called on `null`.
    #[error("type error: {0}")]
    Type(String),
}

/// Evaluates `source` against `scope`. Never panics, whatever the input.
pub fn evaluate(source: &str, scope: &Scope) -> Result<Value, ExprError> {
    if source.len() > MAX_SOURCE_LEN {
        return Err(ExprError::TooLong { len: source.len() });
    }
    let tokens = lexer::tokenize(source)?;
    let expr = parser::parse(&tokens)?;
    Ok(eval::evaluate(&expr, scope)?.into_json())
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
