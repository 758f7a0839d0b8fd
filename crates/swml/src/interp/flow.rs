//! The flow-control methods the interpreter runs itself: `label`, `goto`, `execute`,
//! `return`, `transfer`, `set`, `unset`, `switch` and `cond`, and their conditions.
//!
//! Their nested method arrays (`then`, `else`, `case`, `default`, `on_return`, `result`) are
//! not substituted here; each method in them is substituted when it runs.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::params::{Params, strings, text};
use super::stack::{Block, Cursor, Program};
use super::{Action, Ending, Interpreter, Pending, Step};
use crate::document::{Document, Method};
use crate::expr::{evaluate, truthy};
use crate::scope::Scope;
use crate::subst::{
    has_placeholder, placeholder_value, substitute, substitute_str, whole_placeholder,
};

/// The most times a `goto` jumps, and its default.
const MAX_JUMPS: u32 = 100;

/// Where `execute`/`transfer` goes.
#[derive(Debug)]
enum Dest {
    /// A section of the current document.
    Section(String),
    /// An http(s) URL to fetch SWML from.
    Url(String),
    /// A document given inline (an object, or JSON/YAML text).
    Inline(Document),
}

/// How a destination is entered.
#[derive(Debug)]
pub(super) enum Entry {
    /// As a subroutine: the caller's `params` and what runs after the return.
    Execute {
        saved_params: Value,
        continuation: Vec<Block>,
    },
    /// In place of the current section.
    Transfer,
}

impl Interpreter {
    /// Runs the flow-control method at `cursor`; `None` if it is not one.
    pub(super) fn flow(&mut self, cursor: &Cursor) -> Option<Result<Step, String>> {
        let step = match cursor.method().name.as_str() {
            "label" => Ok(Step::Next),
            "goto" => self.goto(cursor),
            "execute" => self.execute(cursor),
            "transfer" => self.transfer(cursor),
            "return" => {
                let value = substitute(&cursor.method().params, &self.scope);
                Ok(self.leave_frame(Some(value)))
            }
            "set" => self.set(cursor),
            "unset" => self.unset(cursor),
            "switch" => self.switch(cursor),
            "cond" => self.cond(cursor),
            _ => return None,
        };
        Some(step)
    }

    /// `goto {label, when, max}` (or `goto: <label>`): jumps to the label in this section
    /// when `when` holds, at most `max` (1 to 100, default 100) times over the call; after
    /// that the script goes on past it.
    fn goto(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let params = &cursor.method().params;
        let (label, max, when) = match params {
            Value::Object(map) => {
                let substituted = substitute_except(map, "when", &self.scope);
                let p = Params::new(&substituted).map_err(|e| e.to_string())?;
                let label = p.required_string("label").map_err(|e| e.to_string())?;
                let max = p.count("max", 1, MAX_JUMPS).map_err(|e| e.to_string())?;
                (label, max.min(MAX_JUMPS), map.get("when"))
            }
            other => match text(&substitute(other, &self.scope)) {
                Some(label) if !label.is_empty() => (label, MAX_JUMPS, None),
                _ => return Err("expects {label, when, max}".into()),
            },
        };
        if let Some(when) = when
            && !self.condition(when)?
        {
            return Ok(Step::Next);
        }
        if !self.stack.count_jump(cursor, max) {
            return Ok(Step::Next);
        }
        if !self.stack.jump(&label) {
            return Err(format!("no label {label:?} in this section"));
        }
        Ok(Step::Next)
    }

    /// `execute {dest, params, on_return, result}`: runs `dest` as a subroutine with
    /// `params`; after its `return`, `on_return` runs, then `result` (a `switch` on
    /// `return_value` when an object, a `cond` when an array).
    fn execute(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let params = merged(&cursor.method().params);
        let map = params
            .as_object()
            .ok_or("expects {dest, params, on_return, result}")?;
        let dest = self.destination(map.get("dest"))?;
        let location = cursor.location();
        let mut continuation = Vec::new();
        if let Some(result) = map.get("result").filter(|v| !v.is_null()) {
            continuation.push(result_block(
                result,
                "return_value",
                &format!("{location}.execute.result"),
            )?);
        }
        if let Some(on_return) = map.get("on_return").filter(|v| !v.is_null()) {
            continuation.push(Block::new(
                methods(on_return, "on_return")?,
                format!("{location}.execute.on_return"),
            ));
        }
        if self.stack.depth() > self.limits.max_depth as usize {
            return Ok(Step::End(Ending::DepthLimit(self.limits.max_depth)));
        }
        let new_params = self.new_params(map.get("params"))?;
        let saved_params = std::mem::replace(&mut self.scope.params, new_params);
        self.enter(
            dest,
            Entry::Execute {
                saved_params,
                continuation,
            },
            format!("{location}.execute"),
        )
    }

    /// `transfer {dest, params}`: runs `dest` in place of the current section, one way.
    fn transfer(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let params = merged(&cursor.method().params);
        let map = params.as_object().ok_or("expects {dest, params}")?;
        let dest = self.destination(map.get("dest"))?;
        self.scope.params = self.new_params(map.get("params"))?;
        self.enter(
            dest,
            Entry::Transfer,
            format!("{}.transfer", cursor.location()),
        )
    }

    /// Enters `dest`: a section or an inline document at once, a URL after a fetch
    /// (`location` names the method if that fails).
    fn enter(&mut self, dest: Dest, entry: Entry, location: String) -> Result<Step, String> {
        let (program, section) = match dest {
            Dest::Url(url) => {
                let action = Action::Fetch {
                    url: url.clone(),
                    payload: self.scope.payload(),
                };
                self.pending = Some(Pending::Fetch {
                    url,
                    location,
                    entry,
                });
                return Ok(Step::Act(action));
            }
            Dest::Section(name) => {
                let program = self.stack.program().cloned().ok_or("no running section")?;
                (program, name)
            }
            Dest::Inline(document) => (self.stack.load(document), "main".to_owned()),
        };
        if self.start(program, &section, entry) {
            Ok(Step::Next)
        } else {
            Err(format!("no section named {section:?}"))
        }
    }

    /// Starts `section` of `program` as `entry` says; `false` if there is no such section.
    pub(super) fn start(&mut self, program: Arc<Program>, section: &str, entry: Entry) -> bool {
        match entry {
            Entry::Execute {
                saved_params,
                continuation,
            } => self
                .stack
                .push_frame(program, section, saved_params, continuation),
            Entry::Transfer => self.stack.replace_frame(program, section),
        }
    }

    /// The destination of `execute`/`transfer`. Inline SWML is not substituted (its `%{…}`
    /// belong to its own run); a section name or URL is.
    fn destination(&self, dest: Option<&Value>) -> Result<Dest, String> {
        let inline_text = |text: &str| {
            Document::parse(text)
                .map(Dest::Inline)
                .map_err(|e| format!("inline SWML is invalid: {e}"))
        };
        match dest {
            None | Some(Value::Null) => Err("dest is required".into()),
            Some(value @ Value::Object(_)) => Document::from_value(value)
                .map(Dest::Inline)
                .map_err(|e| format!("inline SWML is invalid: {e}")),
            Some(Value::String(raw)) if looks_inline(raw) => inline_text(raw),
            Some(value) => {
                let dest = text(&substitute(value, &self.scope))
                    .filter(|d| !d.trim().is_empty())
                    .ok_or("dest expects a section name, a URL or SWML")?;
                let lower = dest.trim_start().to_ascii_lowercase();
                if lower.starts_with("http://") || lower.starts_with("https://") {
                    Ok(Dest::Url(dest.trim().to_owned()))
                } else if looks_inline(&dest) {
                    inline_text(&dest)
                } else {
                    Ok(Dest::Section(dest))
                }
            }
        }
    }

    /// The `params` of an `execute`/`transfer`, substituted; none is `{}`.
    fn new_params(&self, params: Option<&Value>) -> Result<Value, String> {
        match params {
            None | Some(Value::Null) => Ok(Value::Object(Map::new())),
            Some(value) => match merged(&substitute(value, &self.scope)) {
                object @ Value::Object(_) => Ok(object),
                _ => Err("params expects an object".into()),
            },
        }
    }

    /// `set {name: value, …}`: sets variables (values substituted).
    fn set(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let Value::Object(map) = &cursor.method().params else {
            return Err("expects an object of variables".into());
        };
        for (name, value) in map {
            let value = substitute(value, &self.scope);
            self.scope.vars.insert(name.clone(), value);
        }
        Ok(Step::Next)
    }

    /// `unset <name>` or `unset [<name>, …]`: removes variables.
    fn unset(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let names = strings(&substitute(&cursor.method().params, &self.scope), "")
            .map_err(|_| "expects a variable name or a list of them")?;
        for name in names {
            self.scope.vars.remove(&name);
        }
        Ok(Step::Next)
    }

    /// `switch {variable, case: {value: [methods]}, default: [methods]}`: runs the case
    /// whose key is the variable's value as text, else `default`.
    fn switch(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let Value::Object(map) = &cursor.method().params else {
            return Err("expects {variable, case, default}".into());
        };
        let variable = map
            .get("variable")
            .and_then(Value::as_str)
            .ok_or("variable is required")?;
        let cases = match map.get("case") {
            None | Some(Value::Null) => None,
            Some(Value::Object(cases)) => Some(cases),
            Some(_) => return Err("case expects an object of method lists".into()),
        };
        let key = case_key(&self.variable(variable)?);
        let location = cursor.location();
        let (branch, site) = match cases.and_then(|c| c.get(&key)) {
            Some(branch) => (branch, format!("{location}.switch.case.{key}")),
            None => match map.get("default").filter(|v| !v.is_null()) {
                Some(default) => (default, format!("{location}.switch.default")),
                None => return Ok(Step::Next),
            },
        };
        self.stack
            .push_block(Block::new(methods(branch, "case")?, site));
        Ok(Step::Next)
    }

    /// `cond [{when, then, else}, …, {else}]`: runs the `then` of the first `when` that
    /// holds; a clause's `else` runs when its `when` does not, and ends the `cond`.
    fn cond(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let params = &cursor.method().params;
        let clauses = match params {
            Value::Array(clauses) => clauses.as_slice(),
            Value::Object(_) => std::slice::from_ref(params),
            _ => return Err("expects a list of {when, then, else}".into()),
        };
        let location = cursor.location();
        for (i, clause) in clauses.iter().enumerate() {
            let Value::Object(clause) = clause else {
                return Err(format!("[{i}] expects {{when, then}} or {{else}}"));
            };
            let (part, branch) = match clause.get("when") {
                Some(when) if self.condition(when)? => ("then", clause.get("then")),
                Some(_) if clause.contains_key("else") => ("else", clause.get("else")),
                Some(_) => continue,
                None if clause.contains_key("else") => ("else", clause.get("else")),
                None => return Err(format!("[{i}] needs when or else")),
            };
            if let Some(branch) = branch.filter(|b| !b.is_null()) {
                let site = format!("{location}.cond[{i}].{part}");
                self.stack
                    .push_block(Block::new(methods(branch, part)?, site));
            }
            return Ok(Step::Next);
        }
        Ok(Step::Next)
    }

    /// Whether a `when` holds: an expression; a string that is one `%{…}` is that
    /// expression; other `%{…}` in it are substituted first; a non-string is its own truth.
    pub(super) fn condition(&self, when: &Value) -> Result<bool, String> {
        let Value::String(source) = when else {
            return Ok(truthy(when));
        };
        let source = source.trim();
        let expression = match whole_placeholder(source) {
            Some(inner) => {
                return placeholder_value(inner, &self.scope)
                    .map(|v| truthy(&v))
                    .map_err(|e| format!("when {inner:?}: {e}"));
            }
            None if has_placeholder(source) => match substitute_str(source, &self.scope) {
                Value::String(text) => text,
                other => return Ok(truthy(&other)),
            },
            None => source.to_owned(),
        };
        evaluate(&expression, &self.scope)
            .map(|v| truthy(&v))
            .map_err(|e| format!("when {expression:?}: {e}"))
    }

    /// The value of a `switch` variable: a path or an expression, or text with `%{…}`.
    fn variable(&self, variable: &str) -> Result<Value, String> {
        if let Some(inner) = whole_placeholder(variable.trim()) {
            return placeholder_value(inner, &self.scope)
                .map_err(|e| format!("variable {inner:?}: {e}"));
        }
        if has_placeholder(variable) {
            return Ok(substitute_str(variable, &self.scope));
        }
        evaluate(variable, &self.scope).map_err(|e| format!("variable {variable:?}: {e}"))
    }
}

/// A `result` as a one-method block: a `switch` (on `variable` unless it names one) when an
/// object, a `cond` when an array.
pub(super) fn result_block(result: &Value, variable: &str, site: &str) -> Result<Block, String> {
    let method = match result {
        Value::Object(map) => {
            let mut map = map.clone();
            map.entry("variable")
                .or_insert_with(|| Value::String(variable.to_owned()));
            Method {
                name: "switch".into(),
                params: Value::Object(map),
            }
        }
        Value::Array(_) => Method {
            name: "cond".into(),
            params: result.clone(),
        },
        _ => return Err("result expects a switch object or a cond list".into()),
    };
    Ok(Block::new(vec![method].into(), site.to_owned()))
}

/// A method array (`[{name: params}, …]`).
pub(super) fn methods(value: &Value, what: &str) -> Result<Arc<[Method]>, String> {
    let bad = || format!("{what} expects a list of methods");
    let Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) if map.len() == 1 => map
                .iter()
                .next()
                .map(|(name, params)| Method {
                    name: name.clone(),
                    params: params.clone(),
                })
                .ok_or_else(bad),
            _ => Err(bad()),
        })
        .collect()
}

/// `[{a: 1}, {b: 2}]` as `{a: 1, b: 2}` (a form some examples give parameters in); other
/// values as they are.
fn merged(value: &Value) -> Value {
    match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut map = Map::new();
            for item in items.iter().filter_map(Value::as_object) {
                for (k, v) in item {
                    map.insert(k.clone(), merged(v));
                }
            }
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// `map` substituted, but for the member `except` (left out: it holds methods or an
/// expression that are substituted when they run).
pub(super) fn substitute_except(map: &Map<String, Value>, except: &str, scope: &Scope) -> Value {
    Value::Object(
        map.iter()
            .filter(|(k, _)| k.as_str() != except)
            .map(|(k, v)| (k.clone(), substitute(v, scope)))
            .collect(),
    )
}

/// Text that is a whole document rather than a section name or URL.
fn looks_inline(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with('{') || text.contains('\n') || text.contains("sections:")
}

/// A value as a `switch` key: strings as they are, whole numbers without a fraction,
/// `null` as `""`, the rest as JSON.
fn case_key(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn switch_keys_are_the_value_as_text() {
        assert_eq!(case_key(&json!("1")), "1");
        assert_eq!(case_key(&json!(5)), "5");
        assert_eq!(case_key(&json!(5.0)), "5");
        assert_eq!(case_key(&json!(2.5)), "2.5");
        assert_eq!(case_key(&json!(true)), "true");
        assert_eq!(case_key(&Value::Null), "");
    }

    #[test]
    fn whole_placeholders_and_inline_documents() {
        assert_eq!(whole_placeholder("%{a == 1}"), Some("a == 1"));
        assert_eq!(whole_placeholder("${x}"), Some("x"));
        assert_eq!(whole_placeholder("%{a} == %{b}"), None);
        assert_eq!(whole_placeholder("x"), None);
        assert!(looks_inline(r#" {"version": "1.0.0"}"#));
        assert!(looks_inline("version: 1.0.0\nsections:\n  main: []"));
        assert!(!looks_inline("subroutine"));
        assert!(!looks_inline("https://example.com/swml"));
    }

    #[test]
    fn parameter_pairs_merge_into_an_object() {
        assert_eq!(
            merged(&json!([{"dest": "x"}, {"params": [{"foo": "bar"}]}])),
            json!({"dest": "x", "params": {"foo": "bar"}})
        );
        assert_eq!(merged(&json!({"a": 1})), json!({"a": 1}));
        assert_eq!(merged(&json!([1, 2])), json!([1, 2]));
    }

    #[test]
    fn method_lists() {
        let list = methods(&json!([{"play": {"url": "a"}}, {"hangup": {}}]), "then").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].name, "hangup");
        assert!(methods(&json!([{"a": 1, "b": 2}]), "then").is_err());
        assert!(methods(&json!({"play": {}}), "then").is_err());
    }

    #[test]
    fn results_become_a_switch_or_a_cond() {
        let switch = result_block(&json!({"case": {}}), "connect_result", "x").unwrap();
        let debug = format!("{switch:?}");
        assert!(debug.contains("switch") && debug.contains("connect_result"));
        let named = result_block(&json!({"variable": "v", "case": {}}), "return_value", "x");
        assert!(!format!("{named:?}").contains("return_value"));
        let cond = result_block(&json!([{"else": []}]), "return_value", "x").unwrap();
        assert!(format!("{cond:?}").contains("cond"));
        assert!(result_block(&json!("x"), "return_value", "x").is_err());
    }
}
