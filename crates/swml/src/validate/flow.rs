//! Parameters of the call-lifecycle and flow-control methods: `answer`, `hangup`, `sleep`,
//! `label`, `goto`, `execute`, `transfer`, `return`, `set`, `unset`, `switch`, `cond`,
//! `request`, `user_event`; and the `switch`/`cond`-like `result` of `execute` and `connect`.

use serde_json::Value;

use super::path::Path;
use super::shape::{
    Check, INT, Kind, NUM, Param, check, describe, fields, has_var, kinds, known, object, param,
    require, string,
};
use super::structure::{Cx, method_list};

const METHODS: Kind = Kind::With(method_list);

const ANSWER: &[Param] = &[
    param("max_duration", INT),
    param("codecs", Kind::Str),
    param("username", Kind::Str),
    param("password", Kind::Str),
];

/// `answer {max_duration, codecs, username, password}`.
pub(crate) fn answer(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`answer`", &[ANSWER], &[], cx)
}

const HANGUP: &[Param] = &[param("reason", Kind::OneOf(&["hangup", "busy", "decline"]))];

/// `hangup {reason: hangup|busy|decline}`.
pub(crate) fn hangup(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`hangup`", &[HANGUP], &[], cx)
}

/// Milliseconds to sleep: -1 (for ever) or more.
const MILLISECONDS: Kind = Kind::Int {
    min: -1,
    max: i64::MAX,
};

const SLEEP: &[Param] = &[param("duration", MILLISECONDS)];

/// `sleep`: milliseconds (an integer, -1 for ever), `{duration}`, or a variable.
pub(crate) fn sleep(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::Object(_) => fields(value, at, "`sleep`", &[SLEEP], &["duration"], cx),
        Value::Number(_) | Value::String(_) => check(value, at, &MILLISECONDS, cx),
        other => Err(at.invalid(format!(
            "expected milliseconds (an integer, -1 for ever), {{\"duration\": …}} or a variable, got {}",
            describe(other)
        ))),
    }
}

/// `label "<name>"`.
pub(crate) fn label(value: &Value, at: &Path, _cx: &Cx) -> Check {
    string(value, at).map(drop)
}

const GOTO: &[Param] = &[
    param("label", Kind::Str),
    param("when", Kind::Str),
    param("max", Kind::Int { min: 1, max: 100 }),
];

/// `goto {label*, when, max (1 to 100)}`.
pub(crate) fn goto(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`goto`", &[GOTO], &["label"], cx)
}

const EXECUTE: &[Param] = &[
    param("dest", Kind::With(destination)),
    param("params", Kind::Object),
    param("meta", Kind::Object),
    param("on_return", METHODS),
    param("result", Kind::With(result)),
];

/// `execute {dest*, params, meta, on_return, result}`.
pub(crate) fn execute(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`execute`", &[EXECUTE], &["dest"], cx)
}

const TRANSFER: &[Param] = &[
    param("dest", Kind::With(destination)),
    param("params", Kind::Object),
    param("meta", Kind::Object),
];

/// `transfer {dest*, params, meta}`.
pub(crate) fn transfer(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`transfer`", &[TRANSFER], &["dest"], cx)
}

/// The `dest` of `execute`/`transfer`: a section of this document, an http(s) URL, inline
/// SWML, a `relay:` application or a variable. A plain name (no `:`, `/`, `{`, `%{`, `${`)
/// must name a section.
fn destination(value: &Value, at: &Path, cx: &Cx) -> Check {
    let dest = string(value, at)?;
    let names_section = !dest.contains([':', '/', '{']) && !has_var(dest);
    if names_section && !cx.has_section(dest) {
        return Err(at.invalid(format!(
            "no section named \"{dest}\" in this document (it has {}); a destination is a section, an http(s) URL or inline SWML",
            cx.section_names()
        )));
    }
    Ok(())
}

/// `return <any>`.
pub(crate) fn ret(_value: &Value, _at: &Path, _cx: &Cx) -> Check {
    Ok(())
}

/// `set {name: value, …}`.
pub(crate) fn set(value: &Value, at: &Path, _cx: &Cx) -> Check {
    object(value, at).map(drop)
}

/// `unset "name"` or `unset ["name", …]`.
pub(crate) fn unset(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::Array(_) => check(value, at, &Kind::Strings, cx),
        Value::String(_) => Ok(()),
        other => Err(at.invalid(format!(
            "expected a variable name or an array of names, got {}",
            describe(other)
        ))),
    }
}

const SWITCH: &[Param] = &[
    param("variable", Kind::Str),
    param("case", Kind::With(cases)),
    param("default", METHODS),
];

/// `switch {variable*, case* {value: [methods]}, default [methods]}`.
pub(crate) fn switch(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`switch`", &[SWITCH], &["variable", "case"], cx)
}

/// A `case` object: each value an array of methods.
fn cases(value: &Value, at: &Path, cx: &Cx) -> Check {
    for (key, methods) in object(value, at)? {
        method_list(methods, &at.key(key), cx)?;
    }
    Ok(())
}

const COND_ENTRY: &[Param] = &[
    param("when", Kind::Str),
    param("then", METHODS),
    param("else", METHODS),
];

/// `cond [{when*, then*, else}, …, {else}]`.
pub(crate) fn cond(value: &Value, at: &Path, cx: &Cx) -> Check {
    let Value::Array(entries) = value else {
        return Err(at.invalid(format!(
            "expected an array of {{when, then, else}} entries, got {}",
            describe(value)
        )));
    };
    for (index, entry) in entries.iter().enumerate() {
        let entry_at = at.index(index);
        let map = known(entry, &entry_at, "a `cond` entry", &[COND_ENTRY])?;
        if map.contains_key("when") || map.contains_key("then") {
            require(map, &entry_at, &["when", "then"])?;
        } else {
            require(map, &entry_at, &["else"]).map_err(|_| {
                entry_at.invalid("a `cond` entry needs `when` and `then`, or only `else`")
            })?;
        }
        kinds(map, &entry_at, &[COND_ENTRY], cx)?;
    }
    Ok(())
}

/// The `result` of `execute` and `connect`: like a `switch` (`variable` optional, `case`
/// required) or like a `cond` array.
pub(crate) fn result(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::Object(_) => fields(value, at, "`result`", &[SWITCH], &["case"], cx),
        Value::Array(_) => cond(value, at, cx),
        other => Err(at.invalid(format!(
            "expected a switch-like {{variable, case, default}} object or a cond-like array, got {}",
            describe(other)
        ))),
    }
}

const REQUEST: &[Param] = &[
    param("url", Kind::Str),
    param("method", Kind::OneOf(&["GET", "POST", "PUT", "DELETE"])),
    param("headers", Kind::Object),
    param("body", Kind::With(body)),
    param("timeout", NUM),
    param("connect_timeout", NUM),
    param("save_variables", Kind::Bool),
];

/// `request {url*, method*, headers, body, timeout, connect_timeout, save_variables}`.
pub(crate) fn request(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`request`", &[REQUEST], &["url", "method"], cx)
}

/// A request body: a string or an object.
fn body(value: &Value, at: &Path, _cx: &Cx) -> Check {
    match value {
        Value::String(_) | Value::Object(_) => Ok(()),
        other => Err(at.invalid(format!(
            "expected a string or an object, got {}",
            describe(other)
        ))),
    }
}

const USER_EVENT: &[Param] = &[param("event", Kind::Object)];

/// `user_event {event* {…}}`.
pub(crate) fn user_event(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`user_event`", &[USER_EVENT], &["event"], cx)
}
