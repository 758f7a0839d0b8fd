//! The variables a running script sees: `call` (read-only, per leg), `params` (of the current
//! `execute`/`transfer`), `vars` (set by `set` and by method results, global to the call) and
//! `envs` (read-only, account level).

use serde_json::{Map, Value, json};

/// The variable scopes of one running script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// The call: `call_id`, `direction`, `from`, `to`, `type`, `headers`, …
    pub call: Value,
    /// The parameters of the current `execute`/`transfer`.
    pub params: Value,
    /// The runtime variables.
    pub vars: Map<String, Value>,
    /// Account-level variables.
    pub envs: Value,
}

/// One step of a variable path: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// An object key.
    Key(&'a str),
    /// An array index.
    Index(usize),
}

impl Scope {
    /// The value at `path` (`call.from`, `vars.x`, `params.items[0].name`, or a bare `x`, which
    /// is looked up in `vars`, then `envs`, then `call`); `None` when unset or not a valid path.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        let steps = parse_path(path)?;
        let (first, rest) = steps.split_first()?;
        let Step::Key(first) = first else {
            return None;
        };
        let scoped = match *first {
            "call" => Some(&self.call),
            "params" => Some(&self.params),
            "envs" => Some(&self.envs),
            "vars" => return walk_map(&self.vars, rest),
            _ => None,
        };
        if let Some(root) = scoped {
            return walk(root, rest);
        }
        walk_map(&self.vars, &steps)
            .or_else(|| walk(&self.envs, &steps))
            .or_else(|| walk(&self.call, &steps))
    }

    /// The webhook payload: `{call, vars, envs, params}`.
    pub fn payload(&self) -> Value {
        json!({
            "call": self.call,
            "vars": self.vars,
            "envs": self.envs,
            "params": self.params,
        })
    }
}

/// Splits `a.b[2].c` into steps; `None` if it is not a plain variable path.
pub fn parse_path(path: &str) -> Option<Vec<Step<'_>>> {
    let path = path.trim();
    let mut steps = Vec::new();
    let mut rest = path;
    let mut expect_key = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(Step::Index(after[..end].trim().parse().ok()?));
            rest = &after[end + 1..];
            expect_key = false;
            continue;
        }
        if !expect_key {
            rest = rest.strip_prefix('.')?;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return None;
        }
        steps.push(Step::Key(key));
        rest = &rest[end..];
        expect_key = false;
    }
    (!steps.is_empty()).then_some(steps)
}

fn walk_map<'a>(map: &'a Map<String, Value>, steps: &[Step<'_>]) -> Option<&'a Value> {
    let (first, rest) = steps.split_first()?;
    let Step::Key(key) = first else {
        return None;
    };
    walk(map.get(*key)?, rest)
}

fn walk<'a>(mut value: &'a Value, steps: &[Step<'_>]) -> Option<&'a Value> {
    for step in steps {
        value = match step {
            Step::Key(key) => value.as_object()?.get(*key)?,
            Step::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut vars = Map::new();
        vars.insert("x".into(), json!("from vars"));
        vars.insert("employees".into(), json!([{"name": "Ann"}, {"name": "Bo"}]));
        Scope {
            call: json!({"from": "alice", "to": "/public/ivr", "x": "from call", "y": "call y"}),
            params: json!({"greeting": "hi"}),
            vars,
            envs: json!({"x": "from envs", "region": "eu"}),
        }
    }

    #[test]
    fn scoped_paths_read_their_scope() {
        let s = scope();
        assert_eq!(s.lookup("call.from"), Some(&json!("alice")));
        assert_eq!(s.lookup("params.greeting"), Some(&json!("hi")));
        assert_eq!(s.lookup("vars.x"), Some(&json!("from vars")));
        assert_eq!(s.lookup("envs.region"), Some(&json!("eu")));
        assert_eq!(s.lookup(" vars.employees[1].name "), Some(&json!("Bo")));
        assert_eq!(s.lookup("employees[0].name"), Some(&json!("Ann")));
    }

    #[test]
    fn bare_names_look_in_vars_then_envs_then_call() {
        let s = scope();
        assert_eq!(s.lookup("x"), Some(&json!("from vars")));
        assert_eq!(s.lookup("region"), Some(&json!("eu")));
        assert_eq!(s.lookup("y"), Some(&json!("call y")));
        assert_eq!(s.lookup("nowhere"), None);
    }

    #[test]
    fn what_is_not_a_plain_path_is_none() {
        let s = scope();
        for bad in [
            "", "call.", ".x", "a..b", "a[", "a[x]", "a + b", "x == 1", "a]b",
        ] {
            assert_eq!(parse_path(bad), None, "{bad}");
            assert_eq!(s.lookup(bad), None, "{bad}");
        }
        assert_eq!(
            parse_path("a.b[2].c"),
            Some(vec![
                Step::Key("a"),
                Step::Key("b"),
                Step::Index(2),
                Step::Key("c")
            ])
        );
    }

    #[test]
    fn the_payload_has_the_four_scopes() {
        let p = scope().payload();
        assert_eq!(p["call"]["from"], "alice");
        assert_eq!(p["vars"]["x"], "from vars");
        assert_eq!(p["params"]["greeting"], "hi");
        assert_eq!(p["envs"]["region"], "eu");
    }
}
