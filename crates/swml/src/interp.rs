//! The interpreter: runs a [`Document`] for one call, sans-IO.
//!
//! [`Interpreter::next_action`] runs the flow-control methods itself (`label`, `goto`, `execute`,
//! `return`, `transfer`, `set`, `unset`, `switch`, `cond`) until a method needs the call
//! controller, and returns that [`Action`]. The controller carries it out and reports its
//! [`Outcome`] with [`Interpreter::resume`], which sets the method's output variables; then
//! `next_action` again, until [`Action::Finished`]. No clock, socket or HTTP client here: timeouts
//! are the controller's, and fetched SWML comes back as an outcome.
//!
//! ```text
//! loop {
//!     match interpreter.next_action() {
//!         Action::Finished { ending } => break,
//!         action => interpreter.resume(carry_out(action)),
//!     }
//! }
//! ```
//!
//! - `action`: the actions, read from a method's substituted parameters.
//! - `outcome`: the outcomes, and the output variables set from them.
//! - `flow`: the flow-control methods.
//! - `stack`: sections being run, nested method arrays, `goto` counters.
//! - `params`: typed parameter reads.

mod action;
mod flow;
mod outcome;
mod params;
mod stack;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

pub use action::{
    Action, Connect, Destination, Direction, HangupReason, Header, HttpMethod, Play, Prompt,
    Record, RecordCall, Request, Say,
};
pub use outcome::{MAX_SAVED_BODY, Outcome, Response};

use crate::document::Document;
use crate::scope::Scope;
use crate::subst::substitute;
use flow::{Entry, result_block, substitute_except};
use outcome::{Outputs, failure_reason, set_outputs};
use params::{ParamError, Params};
use stack::{Cursor, Stack};

/// Bounds on what one script may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most methods run over the whole call, flow control included (default 10 000).
    pub max_steps: u32,
    /// The most `execute`s running inside each other (default 32).
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 10_000,
            max_depth: 32,
        }
    }
}

/// Why a script ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// `main` (or the section transferred to) ran to its end.
    End,
    /// `return` outside any `execute`, with its value.
    Returned(Value),
    /// `hangup`, once the controller hung up.
    Hangup(HangupReason),
    /// The script ran more methods than [`Limits::max_steps`] (the limit).
    StepLimit(u32),
    /// An `execute` would nest deeper than [`Limits::max_depth`] (the limit).
    DepthLimit(u32),
    /// The script cannot go on: a bad parameter, a missing label or section, a condition
    /// that cannot be evaluated, invalid inline SWML, a failed fetch.
    Error(ScriptError),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::End => f.write_str("the script ended"),
            Self::Returned(value) => write!(f, "the script returned {value}"),
            Self::Hangup(reason) => write!(f, "hangup ({reason:?})"),
            Self::StepLimit(max) => write!(f, "the script ran more than {max} methods"),
            Self::DepthLimit(max) => write!(f, "execute nested deeper than {max}"),
            Self::Error(error) => write!(f, "script error: {error}"),
        }
    }
}

/// Where a script failed (a path such as `sections.main[2].play.urls`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ScriptError {
    /// The path of the method (or parameter) in the script.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

/// Runs one script for one call: see the [module](self) documentation.
#[derive(Debug)]
pub struct Interpreter {
    scope: Scope,
    limits: Limits,
    stack: Stack,
    steps: u32,
    steps_by_method: BTreeMap<String, u32>,
    pending: Option<Pending>,
    ending: Option<Ending>,
}

/// What the last action's outcome is for.
#[derive(Debug)]
enum Pending {
    /// Sets the method's output variables, then the script goes on.
    Outputs(Outputs),
    /// `connect`: its output variables, then its `result`.
    Connect {
        result: Option<Value>,
        location: String,
    },
    /// `hangup`: the script ends.
    Hangup(HangupReason),
    /// `execute`/`transfer` to a URL: runs the fetched document.
    Fetch {
        url: String,
        location: String,
        entry: Entry,
    },
}

/// What running one method leads to.
#[derive(Debug)]
enum Step {
    /// On to the next method.
    Next,
    /// The controller's turn (what its outcome is for is in `Interpreter::pending`).
    Act(Action),
    /// The script is over.
    End(Ending),
}

impl Interpreter {
    /// Starts `document` at `main`, with the call's `scope` (`call`, `envs`, and any initial
    /// `params` and `vars`).
    pub fn new(document: Document, scope: Scope, limits: Limits) -> Self {
        let mut stack = Stack::default();
        let program = stack.load(document);
        let ending = (!stack.push_frame(program, "main", Value::Null, Vec::new())).then(|| {
            Ending::Error(ScriptError {
                location: "sections".into(),
                message: "there is no main section".into(),
            })
        });
        Self {
            scope,
            limits,
            stack,
            steps: 0,
            steps_by_method: BTreeMap::new(),
            pending: None,
            ending,
        }
    }

    /// Runs the script up to the next action for the controller. After an action other
    /// than [`Action::Finished`], call [`resume`](Self::resume) first; calling `next_action`
    /// without it counts as [`Outcome::Done`].
    pub fn next_action(&mut self) -> Action {
        if self.pending.is_some() {
            self.resume(Outcome::Done);
        }
        loop {
            if let Some(ending) = &self.ending {
                return Action::Finished {
                    ending: ending.clone(),
                };
            }
            let step = match self.stack.next_method() {
                None => self.leave_frame(None),
                Some(cursor) => self.step(&cursor),
            };
            match step {
                Step::Next => {}
                Step::Act(action) => return action,
                Step::End(ending) => self.ending = Some(ending),
            }
        }
    }

    /// Reports the outcome of the last action: sets the method's output variables and
    /// decides what runs next. Ignored when no action is waiting for one.
    pub fn resume(&mut self, outcome: Outcome) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        match pending {
            Pending::Outputs(outputs) => set_outputs(&outputs, &outcome, &mut self.scope.vars),
            Pending::Connect { result, location } => {
                set_outputs(&Outputs::Connect, &outcome, &mut self.scope.vars);
                if let Some(result) = result.filter(|r| !r.is_null()) {
                    let site = format!("{location}.connect.result");
                    match result_block(&result, "connect_result", &site) {
                        Ok(block) => self.stack.push_block(block),
                        Err(message) => self.fail(format!("{location}.connect"), message),
                    }
                }
            }
            Pending::Hangup(reason) => self.ending = Some(Ending::Hangup(reason)),
            Pending::Fetch {
                url,
                location,
                entry,
            } => match outcome {
                Outcome::Document(document) => {
                    let program = self.stack.load(document);
                    if !self.start(program, "main", entry) {
                        self.fail(location, format!("the SWML from {url} has no main section"));
                    }
                }
                other => self.fail(
                    location,
                    format!(
                        "fetching SWML from {url} failed: {}",
                        failure_reason(&other)
                    ),
                ),
            },
        }
    }

    /// The variables as the script sees them now; [`Scope::payload`] is the body of a
    /// webhook fetch.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// How many methods have run, by name (for metrics).
    pub fn steps_by_method(&self) -> &BTreeMap<String, u32> {
        &self.steps_by_method
    }

    /// How the script ended, once it has.
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    /// Runs the method at `cursor`, counting it against the step limit.
    fn step(&mut self, cursor: &Cursor) -> Step {
        self.steps = self.steps.saturating_add(1);
        if self.steps > self.limits.max_steps {
            return Step::End(Ending::StepLimit(self.limits.max_steps));
        }
        let name = &cursor.method().name;
        match self.steps_by_method.get_mut(name) {
            Some(count) => *count = count.saturating_add(1),
            None => {
                self.steps_by_method.insert(name.clone(), 1);
            }
        }
        let result = match self.flow(cursor) {
            Some(result) => result,
            None => self.act(cursor),
        };
        result.unwrap_or_else(|message| {
            Step::End(Ending::Error(ScriptError {
                location: format!("{}.{name}", cursor.location()),
                message,
            }))
        })
    }

    /// The action of a method the controller carries out.
    fn act(&mut self, cursor: &Cursor) -> Result<Step, String> {
        let method = cursor.method();
        let location = cursor.location();
        let param_error = |e: ParamError| e.to_string();
        let (params, result) = match &method.params {
            Value::Object(map) if method.name == "connect" => (
                substitute_except(map, "result", &self.scope),
                map.get("result").cloned(),
            ),
            other => (substitute(other, &self.scope), None),
        };
        let action = action::parse(&method.name, &params, &self.scope.vars).map_err(param_error)?;
        let pending = match &action {
            Action::Prompt(_) => Pending::Outputs(Outputs::Prompt),
            Action::Record(_) => Pending::Outputs(Outputs::Record),
            Action::RecordCall(_) => Pending::Outputs(Outputs::RecordCall),
            Action::JoinRoom { .. } => Pending::Outputs(Outputs::JoinRoom),
            Action::Request(request) => Pending::Outputs(Outputs::Request {
                url: request.url.clone(),
                save_variables: Params::new(&params)
                    .and_then(|p| p.boolean("save_variables", false))
                    .map_err(param_error)?,
            }),
            Action::Connect(_) => Pending::Connect { result, location },
            Action::Hangup { reason } => Pending::Hangup(*reason),
            _ => Pending::Outputs(Outputs::Nothing),
        };
        self.pending = Some(pending);
        Ok(Step::Act(action))
    }

    /// Leaves the innermost frame, by `return` (with its value) or by running out of
    /// methods (`None`): restores the caller's `params`, sets `return_value` (unset without
    /// a value) and runs the caller's `on_return`/`result`. Outside any `execute`, the script
    /// ends and the variables stay as they are.
    fn leave_frame(&mut self, value: Option<Value>) -> Step {
        let Some(frame) = self.stack.pop_frame() else {
            return Step::End(Ending::End);
        };
        if self.stack.depth() == 0 {
            return Step::End(value.map_or(Ending::End, Ending::Returned));
        }
        match value {
            None | Some(Value::Null) => {
                self.scope.vars.remove("return_value");
            }
            Some(value) => {
                self.scope.vars.insert("return_value".into(), value);
            }
        }
        self.scope.params = frame.saved_params;
        for block in frame.continuation {
            self.stack.push_block(block);
        }
        Step::Next
    }

    fn fail(&mut self, location: String, message: String) {
        self.ending = Some(Ending::Error(ScriptError { location, message }));
    }
}
