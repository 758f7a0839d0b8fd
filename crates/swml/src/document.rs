//! The SWML document model: `{"version": "1.0.0", "sections": {"main": [ {method: params}, … ], …}}`.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed, validated SWML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The `version` field (`"1.0.0"`).
    pub version: String,
    /// The named sections; `main` is always present.
    pub sections: BTreeMap<String, Vec<Method>>,
}

/// One method call in a section: `{name: params}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// The method's name, e.g. `play`.
    pub name: String,
    /// Its parameters as written (an object, a string, a number, an array, …), before
    /// substitution.
    pub params: Value,
}
