//! The interpreter's flow control, method by method: `label`, `goto`, `execute`, `return`,
//! `transfer`, `set`, `unset`, `switch`, `cond`, their conditions, and the limits.

use serde_json::{Value, json};
use weft_swml::interp::{Ending, HangupReason, Limits, Outcome};
use weft_swml::{Action, Document, Interpreter, Method, Scope};

fn scope() -> Scope {
    Scope {
        call: json!({"from": "+15550001111", "to": "/public/ivr", "type": "webrtc"}),
        params: json!({"level": "top"}),
        ..Scope::default()
    }
}

fn interpreter(sections: Value, limits: Limits) -> Interpreter {
    let document = Document::from_value(&json!({"version": "1.0.0", "sections": sections}))
        .unwrap_or_else(|e| panic!("test script is invalid: {e}"));
    Interpreter::new(document, scope(), limits)
}

/// A document built without the validator, for what only the interpreter can catch.
fn unvalidated(sections: Value) -> Document {
    let sections = sections
        .as_object()
        .expect("sections")
        .iter()
        .map(|(name, methods)| {
            let methods = methods
                .as_array()
                .expect("methods")
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter())
                .map(|(name, params)| Method {
                    name: name.clone(),
                    params: params.clone(),
                })
                .collect();
            (name.clone(), methods)
        })
        .collect();
    Document {
        version: "1.0.0".into(),
        sections,
    }
}

/// Runs to the end, answering every action with `answer`; the actions and the ending.
fn run_with(
    interpreter: &mut Interpreter,
    mut answer: impl FnMut(&Action) -> Outcome,
) -> (Vec<Action>, Ending) {
    let mut actions = Vec::new();
    for _ in 0..100_000 {
        match interpreter.next_action() {
            Action::Finished { ending } => return (actions, ending),
            action => {
                interpreter.resume(answer(&action));
                actions.push(action);
            }
        }
    }
    panic!("no ending after 100 000 actions: {:?}", actions.last());
}

/// Runs `sections` with every action answered `Done`: what was played, and the ending.
fn run(sections: Value) -> (Vec<String>, Ending) {
    let mut interpreter = interpreter(sections, Limits::default());
    let (actions, ending) = run_with(&mut interpreter, |_| Outcome::Done);
    (played(&actions), ending)
}

/// The URLs of the `play` actions, in order.
fn played(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play(play) => Some(play.urls.join(" ")),
            _ => None,
        })
        .collect()
}

fn play(url: &str) -> Value {
    json!({"play": {"url": url}})
}

fn error_at(ending: &Ending) -> &str {
    match ending {
        Ending::Error(error) => &error.location,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn methods_run_in_order_and_label_does_nothing() {
    let (played, ending) = run(json!({"main": [
        play("say:a"), {"label": "here"}, play("say:b")
    ]}));
    assert_eq!(played, ["say:a", "say:b"]);
    assert_eq!(ending, Ending::End);
}

#[test]
fn goto_jumps_back_at_most_max_times() {
    let (played, ending) = run(json!({"main": [
        {"label": "top"}, play("say:again"),
        {"goto": {"label": "top", "max": 3}},
        play("say:done")
    ]}));
    assert_eq!(played.len(), 5);
    assert_eq!(played[3], "say:again");
    assert_eq!(played[4], "say:done");
    assert_eq!(ending, Ending::End);
}

#[test]
fn goto_without_max_jumps_100_times_then_goes_on() {
    let (played, ending) = run(json!({"main": [
        {"label": "top"}, play("say:again"), {"goto": {"label": "top"}}, play("say:out")
    ]}));
    assert_eq!(played.len(), 102);
    assert_eq!(played.last().map(String::as_str), Some("say:out"));
    assert_eq!(ending, Ending::End);
}

#[test]
fn goto_jumps_while_when_holds() {
    let (played, _) = run(json!({"main": [
        {"set": {"n": 0}},
        {"label": "top"},
        {"set": {"n": "%{n + 1}"}},
        play("say:%{n}"),
        {"goto": {"label": "top", "when": "n < 3"}}
    ]}));
    assert_eq!(played, ["say:1", "say:2", "say:3"]);
}

#[test]
fn goto_from_a_branch_reaches_the_sections_label() {
    let (played, _) = run(json!({"main": [
        {"set": {"n": 0}},
        {"label": "top"},
        play("say:%{n}"),
        {"cond": [{"when": "n < 2", "then": [
            {"set": {"n": "%{n + 1}"}},
            {"goto": {"label": "top"}}
        ]}]},
        play("say:end")
    ]}));
    assert_eq!(played, ["say:0", "say:1", "say:2", "say:end"]);
}

#[test]
fn goto_cannot_leave_its_section() {
    let (_, ending) = run(json!({
        "main": [{"set": {"target": "top"}}, {"label": "top"}, {"execute": {"dest": "sub"}}],
        "sub": [{"label": "sub"}, {"goto": {"label": "%{vars.target}"}}]
    }));
    assert_eq!(error_at(&ending), "sections.sub[1].goto");
    let Ending::Error(error) = ending else {
        unreachable!()
    };
    assert_eq!(error.message, "no label \"top\" in this section");
}

#[test]
fn execute_runs_a_section_with_its_params_and_restores_the_callers() {
    let (played, ending) = run(json!({
        "main": [
            {"execute": {"dest": "sub", "params": {"level": "sub %{params.level}"}}},
            play("say:%{params.level} got %{return_value}")
        ],
        "sub": [play("say:%{params.level}"), {"return": "r"}, play("say:unreached")]
    }));
    assert_eq!(played, ["say:sub top", "say:top got r"]);
    assert_eq!(ending, Ending::End);
}

#[test]
fn execute_with_no_params_gives_empty_params() {
    let mut interpreter = interpreter(
        json!({"main": [{"execute": {"dest": "sub"}}], "sub": [{"sleep": 10}]}),
        Limits::default(),
    );
    assert!(matches!(interpreter.next_action(), Action::Sleep { .. }));
    assert_eq!(interpreter.scope().params, json!({}));
    assert!(matches!(interpreter.next_action(), Action::Finished { .. }));
    assert_eq!(interpreter.scope().params, json!({"level": "top"}));
}

#[test]
fn on_return_runs_then_result_switches_on_return_value() {
    let (played, _) = run(json!({
        "main": [{"execute": {
            "dest": "sum",
            "params": {"a": 2, "b": 3},
            "on_return": [play("say:returned %{return_value}")],
            "result": {"case": {"5": [play("say:five")]}, "default": [play("say:other")]}
        }}],
        "sum": [{"return": "%{params.a + params.b}"}]
    }));
    assert_eq!(played, ["say:returned 5", "say:five"]);
}

#[test]
fn a_result_list_is_a_cond() {
    let (played, _) = run(json!({
        "main": [{"execute": {
            "dest": "sub",
            "result": [
                {"when": "return_value == 'no'", "then": [play("say:no")]},
                {"else": [play("say:else %{return_value}")]}
            ]
        }}],
        "sub": [{"return": "yes"}]
    }));
    assert_eq!(played, ["say:else yes"]);
}

#[test]
fn a_section_that_runs_out_returns_no_value() {
    let mut interpreter = interpreter(
        json!({
            "main": [{"set": {"return_value": "stale"}}, {"execute": {"dest": "sub"}}],
            "sub": [{"set": {"x": 1}}]
        }),
        Limits::default(),
    );
    let (_, ending) = run_with(&mut interpreter, |_| Outcome::Done);
    assert_eq!(ending, Ending::End);
    assert!(!interpreter.scope().vars.contains_key("return_value"));
    assert_eq!(interpreter.scope().vars["x"], 1);
}

#[test]
fn return_outside_execute_ends_with_its_value() {
    let (played, ending) = run(json!({"main": [
        {"return": {"a": "%{call.from}"}}, play("say:unreached")
    ]}));
    assert!(played.is_empty());
    assert_eq!(ending, Ending::Returned(json!({"a": "+15550001111"})));
}

#[test]
fn execute_runs_inline_swml_text_and_objects() {
    let inline_text = json!({"version": "1.0.0", "sections": {"main": [
        play("say:text %{params.who}"), {"return": "t"}
    ]}})
    .to_string();
    let document = unvalidated(json!({"main": [
        {"execute": {"dest": inline_text, "params": {"who": "one"}}},
        {"execute": {
            "dest": {"version": "1.0.0", "sections": {"main": [play("say:object %{return_value}")]}}
        }},
        play("say:back %{params.level}")
    ]}));
    let mut interpreter = Interpreter::new(document, scope(), Limits::default());
    let (actions, ending) = run_with(&mut interpreter, |_| Outcome::Done);
    assert_eq!(
        played(&actions),
        ["say:text one", "say:object t", "say:back top"],
        "inline SWML sees its own params"
    );
    assert_eq!(ending, Ending::End);
}

#[test]
fn invalid_inline_swml_and_missing_sections_end_the_script() {
    let (_, ending) = run(json!({"main": [{"execute": {"dest": "{\"version\": 1"}}]}));
    assert_eq!(error_at(&ending), "sections.main[0].execute");
    let (_, ending) = run(json!({"main": [
        {"set": {"next": "nowhere"}},
        {"transfer": {"dest": "%{next}"}}
    ]}));
    assert_eq!(error_at(&ending), "sections.main[1].transfer");
    let Ending::Error(error) = ending else {
        unreachable!()
    };
    assert!(error.message.contains("nowhere"), "{error}");
}

#[test]
fn transfer_is_one_way() {
    let (played, ending) = run(json!({
        "main": [play("say:a"), {"transfer": {"dest": "next", "params": {"p": 1}}}, play("say:unreached")],
        "next": [play("say:next %{params.p}")]
    }));
    assert_eq!(played, ["say:a", "say:next 1"]);
    assert_eq!(ending, Ending::End);
}

#[test]
fn transfer_inside_execute_returns_to_the_executes_caller() {
    let (played, _) = run(json!({
        "main": [
            {"execute": {"dest": "a", "params": {"level": "a"}}},
            play("say:back %{return_value} %{params.level}")
        ],
        "a": [{"transfer": {"dest": "b", "params": {"level": "b"}}}, play("say:unreached")],
        "b": [play("say:%{params.level}"), {"return": "from-b"}]
    }));
    assert_eq!(played, ["say:b", "say:back from-b top"]);
}

#[test]
fn set_and_unset_variables() {
    let mut interpreter = interpreter(
        json!({"main": [
            {"set": {"a": 1, "list": [1, 2], "greeting": "hi %{call.from}"}},
            {"set": {"b": "%{a}"}},
            {"unset": "a"},
            {"unset": ["list", "never-set"]}
        ]}),
        Limits::default(),
    );
    let (_, ending) = run_with(&mut interpreter, |_| Outcome::Done);
    assert_eq!(ending, Ending::End);
    let vars = &interpreter.scope().vars;
    assert_eq!(
        vars.get("b"),
        Some(&json!(1)),
        "a whole placeholder keeps its type"
    );
    assert_eq!(vars.get("greeting"), Some(&json!("hi +15550001111")));
    assert!(!vars.contains_key("a"));
    assert!(!vars.contains_key("list"));
}

#[test]
fn switch_runs_the_matching_case_or_default() {
    let (played, _) = run(json!({"main": [
        {"set": {"n": 5}},
        {"switch": {"variable": "n", "case": {"5": [play("say:five")]}, "default": [play("say:d")]}},
        {"switch": {"variable": "call.type", "case": {"sip": [play("say:sip")]}, "default": [play("say:other")]}},
        {"switch": {"variable": "vars.unset", "case": {"x": [play("say:x")]}}},
        {"switch": {"variable": "call.type.toUpperCase()", "case": {"WEBRTC": [play("say:expr")]}}},
        {"switch": {"variable": "%{call.type}-%{n}", "case": {"webrtc-5": [play("say:text")]}}},
        {"set": {"caller-id": "vip"}},
        {"switch": {"variable": "%{vars.caller-id}", "case": {"vip": [play("say:path")]}}},
        {"cond": [{"when": "%{vars.caller-id}", "then": [play("say:truthy")]}]},
        play("say:end")
    ]}));
    assert_eq!(
        played,
        [
            "say:five",
            "say:other",
            "say:expr",
            "say:text",
            "say:path",
            "say:truthy",
            "say:end"
        ]
    );
}

#[test]
fn cond_runs_the_first_branch_that_holds_or_else() {
    let branches = |x: i32| {
        run(json!({"main": [
            {"set": {"x": x}},
            {"cond": [
                {"when": "x == 1", "then": [play("say:one")]},
                {"when": "x > 5", "then": [play("say:big")], "else": [play("say:small")]},
                {"else": [play("say:never")]}
            ]},
            play("say:end")
        ]}))
        .0
    };
    assert_eq!(branches(1), ["say:one", "say:end"]);
    assert_eq!(branches(9), ["say:big", "say:end"]);
    assert_eq!(branches(3), ["say:small", "say:end"]);
    let (played, _) = run(json!({"main": [
        {"cond": [{"when": "false", "then": [play("say:no")]}, {"else": [play("say:else")]}]}
    ]}));
    assert_eq!(played, ["say:else"]);
}

#[test]
fn when_may_use_placeholders() {
    let mut interpreter = interpreter(
        json!({"main": [
            {"prompt": {"play": "say:press"}},
            {"cond": [
                {"when": "%{prompt_value} == 1", "then": [play("say:one")]},
                {"else": [play("say:other")]}
            ]},
            {"cond": [{"when": "%{prompt_result == 'match_digits'}", "then": [play("say:matched")]}]}
        ]}),
        Limits::default(),
    );
    let (actions, _) = run_with(&mut interpreter, |a| match a {
        Action::Prompt(_) => Outcome::Digits {
            digits: "1".into(),
            terminator: None,
        },
        _ => Outcome::Done,
    });
    assert_eq!(played(&actions), ["say:one", "say:matched"]);
}

#[test]
fn a_condition_that_cannot_be_evaluated_ends_the_script() {
    let (played, ending) = run(json!({"main": [
        play("say:a"),
        {"cond": [{"when": "x ==", "then": [play("say:b")]}]},
        play("say:c")
    ]}));
    assert_eq!(played, ["say:a"]);
    assert_eq!(error_at(&ending), "sections.main[1].cond");
}

#[test]
fn the_step_limit_ends_a_loop() {
    let mut looping = interpreter(
        json!({"main": [{"label": "top"}, {"set": {"x": 1}}, {"goto": {"label": "top"}}]}),
        Limits {
            max_steps: 50,
            ..Limits::default()
        },
    );
    assert_eq!(
        run_with(&mut looping, |_| Outcome::Done).1,
        Ending::StepLimit(50)
    );
    assert_eq!(looping.steps_by_method()["set"], 17);
    let (_, ending) = run(json!({"main": [{"transfer": {"dest": "main"}}]}));
    assert_eq!(ending, Ending::StepLimit(10_000));
}

#[test]
fn the_depth_limit_ends_recursion() {
    let mut nested = interpreter(
        json!({"main": [{"execute": {"dest": "sub"}}], "sub": [play("say:x"), {"execute": {"dest": "sub"}}]}),
        Limits {
            max_depth: 3,
            ..Limits::default()
        },
    );
    let (actions, ending) = run_with(&mut nested, |_| Outcome::Done);
    assert_eq!(played(&actions).len(), 3);
    assert_eq!(ending, Ending::DepthLimit(3));
    let (_, ending) = run(json!({"main": [{"execute": {"dest": "main"}}]}));
    assert_eq!(ending, Ending::DepthLimit(32));
}

#[test]
fn a_bad_parameter_ends_the_script_naming_it() {
    let (_, ending) = run(json!({"main": [{"play": {"url": "%{vars.nothing}"}}]}));
    let Ending::Error(error) = &ending else {
        panic!("{ending:?}")
    };
    assert_eq!(error.location, "sections.main[0].play");
    assert!(error.message.starts_with("url:"), "{error}");
}

#[test]
fn hangup_ends_the_script_once_done() {
    let mut interpreter = interpreter(
        json!({"main": [{"hangup": {"reason": "busy"}}, play("say:unreached")]}),
        Limits::default(),
    );
    assert_eq!(
        interpreter.next_action(),
        Action::Hangup {
            reason: HangupReason::Busy
        }
    );
    interpreter.resume(Outcome::Done);
    let finished = Action::Finished {
        ending: Ending::Hangup(HangupReason::Busy),
    };
    assert_eq!(interpreter.next_action(), finished);
    assert_eq!(interpreter.next_action(), finished, "Finished repeats");
}

#[test]
fn next_action_without_resume_counts_as_done() {
    let mut interpreter = interpreter(
        json!({"main": [play("say:a"), play("say:b")]}),
        Limits::default(),
    );
    assert!(matches!(interpreter.next_action(), Action::Play(_)));
    assert!(matches!(interpreter.next_action(), Action::Play(p) if p.urls == ["say:b"]));
    interpreter.resume(Outcome::Done);
    interpreter.resume(Outcome::Done);
    assert_eq!(
        interpreter.next_action(),
        Action::Finished {
            ending: Ending::End
        }
    );
}

#[test]
fn unsupported_methods_are_reported_and_skipped() {
    let mut interpreter = interpreter(
        json!({"main": [{"tap": {"uri": "rtp://127.0.0.1:5000"}}, play("say:after")]}),
        Limits::default(),
    );
    let (actions, ending) = run_with(&mut interpreter, |_| Outcome::Done);
    assert_eq!(
        actions[0],
        Action::Unsupported {
            method: "tap".into()
        }
    );
    assert_eq!(played(&actions), ["say:after"]);
    assert_eq!(ending, Ending::End);
}
