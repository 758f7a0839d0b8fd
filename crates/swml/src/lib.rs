//! SWML (SignalWire Markup Language), sans-IO: a script is parsed and validated into a
//! [`Document`]; an [`Interpreter`] runs it for one call, yielding [`Action`]s for a call
//! controller to carry out and taking their results. No clock, socket or HTTP client here: time
//! and fetched documents come in as inputs.
//!
//! - [`document`]: the document model, JSON and YAML parsing.
//! - [`dtmf`]: the DTMF keys.
//! - [`validate`]: what a valid script is, with errors that name the JSON path.
//! - [`scope`]: the variables a script sees (`call`, `params`, `vars`, `envs`).
//! - [`expr`]: the small, safe expression language of `when`, `cond` and `%{…}`.
//! - [`subst`]: `%{…}` / `${…}` substitution in method parameters.
//! - [`interp`]: the interpreter.
//! - [`prompt`]: collecting a `prompt`'s digits.

pub mod document;
pub mod dtmf;
pub mod expr;
pub mod interp;
pub mod prompt;
pub mod scope;
pub mod subst;
pub mod validate;

pub use document::{Document, Method};
pub use interp::{Action, Interpreter};
pub use interp::{Ending, Limits, Outcome};
pub use scope::Scope;
pub use validate::Invalid;
