//! The document's structure (§B.1): the top-level object, its sections, and the
//! `{name: params}` method elements of any method array.

use serde_json::{Map, Value};

use super::path::Path;
use super::shape::{Check, describe};
use super::{Invalid, depth, methods};

/// The `version` a document without one has, and the only one there is.
const VERSION: &str = "1.0.0";

/// A validated document, borrowed from its JSON value: its version and, for each section in
/// key order, its methods as `(name, params)`.
pub(crate) struct Outline<'a> {
    /// The `version` (`"1.0.0"`, also when it was left out).
    pub(crate) version: &'a str,
    /// `(section name, [(method name, params)])`.
    pub(crate) sections: Vec<(&'a str, Vec<(&'a str, &'a Value)>)>,
}

/// What checks of one method may need to know about the whole document.
pub(crate) struct Cx<'a> {
    sections: &'a Map<String, Value>,
}

impl Cx<'_> {
    /// Whether the document has a section called `name`.
    pub(crate) fn has_section(&self, name: &str) -> bool {
        self.sections.contains_key(name)
    }

    /// The document's section names, for messages.
    pub(crate) fn section_names(&self) -> String {
        self.sections
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Validates a whole document.
pub(crate) fn document(value: &Value) -> Result<Outline<'_>, Invalid> {
    let root = Path::Root;
    depth::check(value, &root, 1)?;
    let Value::Object(top) = value else {
        return Err(root.invalid(format!(
            "a SWML document is an object with `version` and `sections`, got {}",
            describe(value)
        )));
    };
    if let Some(key) = top.keys().find(|k| *k != "version" && *k != "sections") {
        return Err(root
            .key(key)
            .invalid("unknown top-level key; a SWML document has only `version` and `sections`"));
    }
    let version = match top.get("version") {
        None => VERSION,
        Some(Value::String(v)) if v == VERSION => v.as_str(),
        Some(other) => {
            return Err(root
                .key("version")
                .invalid(format!("expected \"{VERSION}\", got {}", describe(other))));
        }
    };
    let sections_at = root.key("sections");
    let sections = match top.get("sections") {
        Some(Value::Object(sections)) => sections,
        Some(other) => {
            return Err(sections_at.invalid(format!(
                "expected an object of named sections (arrays of methods), got {}",
                describe(other)
            )));
        }
        None => {
            return Err(root
                .invalid("missing `sections`, an object of named sections with at least `main`"));
        }
    };
    if !sections.contains_key("main") {
        return Err(sections_at.invalid("missing the `main` section, where execution starts"));
    }
    let cx = Cx { sections };
    let mut outline = Vec::with_capacity(sections.len());
    for (name, body) in sections {
        let at = sections_at.key(name);
        let Value::Array(items) = body else {
            return Err(at.invalid(format!(
                "a section is an array of methods, got {}",
                describe(body)
            )));
        };
        let mut section = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            section.push(method(item, &at.index(index), &cx)?);
        }
        outline.push((name.as_str(), section));
    }
    Ok(Outline {
        version,
        sections: outline,
    })
}

/// Validates a nested array of methods (`cond[0].then`, `switch.case.1`, `on_return`, …).
pub(crate) fn method_list(value: &Value, at: &Path, cx: &Cx) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of methods, got {}",
            describe(value)
        )));
    };
    for (index, item) in items.iter().enumerate() {
        method(item, &at.index(index), cx)?;
    }
    Ok(())
}

/// Validates one method element, `{name: params}`, and returns its name and parameters.
fn method<'v>(item: &'v Value, at: &Path, cx: &Cx) -> Result<(&'v str, &'v Value), Invalid> {
    let Value::Object(map) = item else {
        return Err(at.invalid(format!(
            "a method is an object with one key, the method's name (such as {{\"answer\": {{}}}}), got {}",
            describe(item)
        )));
    };
    let mut entries = map.iter();
    let (Some((name, params)), None) = (entries.next(), entries.next()) else {
        let keys = map.keys().map(String::as_str).collect::<Vec<_>>();
        return Err(at.invalid(format!(
            "a method is an object with exactly one key, the method's name; found {} keys{}{}",
            keys.len(),
            if keys.is_empty() { "" } else { ": " },
            keys.join(", ")
        )));
    };
    methods::check(name, params, at, cx)?;
    Ok((name, params))
}
