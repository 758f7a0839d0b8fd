//! What the `swml` target does with its input: the script's text through the parser and
//! validator, and a valid script through the interpreter in a simulated call; the text also as
//! an expression and as a string with `%{…}` placeholders.

use serde_json::{Map, json};
use weft_swml::interp::{Limits, Outcome, Response};
use weft_swml::{Action, Document, Interpreter, Scope, expr, subst};

/// Most actions one simulated call takes (the interpreter's step limit ends runaway flow control
/// long before; this bounds scripts that loop through actions, e.g. `play` in a `goto` loop).
const MAX_ACTIONS: usize = 2_000;

/// The variables a script sees in the simulated call.
fn scope() -> Scope {
    let mut vars = Map::new();
    vars.insert("digits".into(), json!("12#"));
    Scope {
        call: json!({
            "call_id": "fuzz-call", "direction": "inbound", "type": "sip",
            "from": "sip:alice@example.com", "to": "/public/ivr", "headers": [{"name": "X-A", "value": "1"}]
        }),
        params: json!({"n": 3, "list": [1, "two", {"three": 3}]}),
        vars,
        envs: json!({"region": "eu"}),
    }
}

/// `text` as an expression and as a string with placeholders.
pub fn evaluate_and_substitute(text: &str) {
    let scope = scope();
    let _ = expr::evaluate(text, &scope);
    let _ = subst::substitute_str_checked(text, &scope);
}

/// Parses `text`; if it is a valid script, runs it to its end in a simulated call. The outcomes
/// are chosen from the text's bytes so that different inputs take different branches.
pub fn run_script(text: &str) {
    let Ok(document) = Document::parse(text) else {
        return;
    };
    let choices = text.as_bytes();
    let mut interpreter = Interpreter::new(document.clone(), scope(), Limits::default());
    for turn in 0..MAX_ACTIONS {
        let choice = choices.get(turn % choices.len().max(1)).copied().unwrap_or(0);
        let outcome = match interpreter.next_action() {
            Action::Finished { .. } => return,
            Action::Prompt(_) => Outcome::Digits {
                digits: ["", "1", "2", "9"][usize::from(choice % 4)].to_owned(),
                terminator: (choice & 4 != 0).then_some('#'),
            },
            Action::Request(_) => Outcome::Response(Response {
                status: [200, 404, 503][usize::from(choice % 3)],
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: br#"{"ok": true, "next": "main", "n": 2}"#.to_vec(),
            }),
            Action::Fetch { .. } if choice % 2 == 0 => Outcome::Document(document.clone()),
            Action::Connect(_) | Action::JoinRoom { .. } | Action::Fetch { .. }
                if choice % 3 == 0 =>
            {
                Outcome::Failed {
                    reason: "fuzz".into(),
                }
            }
            Action::Record(_) => Outcome::Recorded {
                url: "/recordings/fuzz".into(),
            },
            Action::RecordCall(record) => Outcome::RecordingStarted {
                control_id: record.control_id.unwrap_or_else(|| "fuzz-rec".into()),
                url: "/recordings/fuzz-call".into(),
            },
            _ => Outcome::Done,
        };
        interpreter.resume(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed seed that is a valid script runs to its end without panicking, and at
    /// least one seed is valid (so the interpreter path is reached).
    #[test]
    fn the_seeds_run() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/swml");
        let mut valid = 0;
        for entry in std::fs::read_dir(dir).expect("seeds/swml") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("seed");
            let text = String::from_utf8(bytes).expect("seeds are text, as scripts are");
            evaluate_and_substitute(&text);
            if Document::parse(&text).is_ok() {
                valid += 1;
            }
            run_script(&text);
        }
        assert!(valid >= 20, "{valid} valid seeds");
    }
}
