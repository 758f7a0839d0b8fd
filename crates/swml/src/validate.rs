//! What a valid SWML script is, after SignalWire's published calling-SWML JSON Schema (43
//! methods) and `shared/spec/swml.md` §B.1–B.3.
//!
//! - The document is an object with an optional `version` (the string `"1.0.0"`; missing means
//!   `"1.0.0"`, as in the schema, where only `sections` is required) and `sections`, an object of
//!   method arrays with `main` required. Other top-level keys are rejected.
//! - Every method is an object with exactly one key, one of the 43 calling methods.
//! - The parameters of the methods Weft runs (§B.6 phases 1 and 2) are checked in full: unknown
//!   parameters are rejected, as the schema does, and nested method arrays (`cond`, `switch`,
//!   `execute.on_return`, `connect.result`, …) are checked recursively. The other methods
//!   (`ai`, `pay`, `send_sms`, `join_conference`, …) need an object and are not looked into.
//! - Wherever an integer, number or boolean is expected, a variable such as `"%{vars.n}"`
//!   (the schema's `SWMLVar`, `^[$%]\{.*\}$`) is accepted too.
//! - A document may nest at most [`MAX_DEPTH`] levels of arrays and objects, and YAML text may
//!   have at most [`MAX_YAML_FLOW_COLLECTIONS`] inline `[…]`/`{…}` collections (the YAML
//!   parser's time grows with the square of their nesting).
//!
//! The first error found is returned, in a fixed order: structure before parameters, sections
//! and methods in document order.

mod connect;
mod depth;
mod flow;
mod media;
mod methods;
mod path;
mod shape;
mod structure;
mod yaml_flow;

use std::fmt;

pub use depth::MAX_DEPTH;
pub use methods::{CALLING_METHODS, is_calling_method};
pub(crate) use structure::document;
pub use yaml_flow::MAX_YAML_FLOW_COLLECTIONS;
pub(crate) use yaml_flow::check as check_yaml_flow;

/// Why a script is invalid: where (a JSON path such as `sections.main[2].play.url`; empty for
/// the document as a whole) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The JSON path of the offending value; empty for the whole document.
    pub path: String,
    /// What is wrong with it, saying what is expected.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for Invalid {}
