//! The SWML document model: `{"version": "1.0.0", "sections": {"main": [ {method: params}, … ], …}}`,
//! parsed from JSON or YAML text and validated ([`crate::validate`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::validate::{self, Invalid};

/// A parsed, validated SWML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The `version` field (`"1.0.0"`, also when the document left it out).
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

impl Document {
    /// Parses and validates SWML text: JSON when it starts with `{` (after white space), YAML
    /// otherwise. A syntax error is an [`Invalid`] with an empty path and the line and column
    /// in its message.
    pub fn parse(text: &str) -> Result<Document, Invalid> {
        Document::from_value(&decode(text)?)
    }

    /// Validates an already decoded document (for instance a JSON request body).
    pub fn from_value(value: &Value) -> Result<Document, Invalid> {
        let outline = validate::document(value)?;
        let sections = outline
            .sections
            .into_iter()
            .map(|(name, methods)| {
                let methods = methods
                    .into_iter()
                    .map(|(name, params)| Method {
                        name: name.to_owned(),
                        params: params.clone(),
                    })
                    .collect();
                (name.to_owned(), methods)
            })
            .collect();
        Ok(Document {
            version: outline.version.to_owned(),
            sections,
        })
    }
}

/// JSON or YAML text as a JSON value. Both parsers limit nesting (to 128 levels) and the YAML
/// one limits alias expansion; YAML's inline collections are bounded first
/// ([`validate::MAX_YAML_FLOW_COLLECTIONS`]), so hostile text fails quickly and cleanly.
fn decode(text: &str) -> Result<Value, Invalid> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let syntax_error = |message: String| Invalid {
        path: String::new(),
        message,
    };
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| syntax_error(format!("not valid JSON: {e}")))
    } else {
        validate::check_yaml_flow(text)?;
        serde_yaml_ng::from_str(text).map_err(|e| syntax_error(format!("not valid YAML: {e}")))
    }
}
