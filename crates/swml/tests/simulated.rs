//! Whole scripts run in a simulated call: a [`Simulator`] plays the call controller, answers
//! each action with a scripted outcome and records what the script asked for.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::PathBuf;

use serde_json::json;
use weft_swml::interp::{Ending, HangupReason, Limits, Outcome, Response};
use weft_swml::{Action, Document, Interpreter, Scope};

/// The most actions one simulated call may take before the test gives up.
const MAX_ACTIONS: usize = 100_000;

/// A call controller for tests: answers every action from a script of outcomes.
struct Simulator {
    interpreter: Interpreter,
    /// The digits pressed at each `prompt`, in order; "1" once they run out.
    digits: VecDeque<&'static str>,
    /// The outcome of each `connect`, in order; connected once they run out.
    connects: VecDeque<Outcome>,
    /// The response to each `request`, in order; 200 `{}` once they run out.
    responses: VecDeque<Response>,
    /// The SWML served at each URL; other URLs fail, unless `any_url` serves them.
    documents: HashMap<&'static str, Document>,
    /// Served at every URL not in `documents`.
    any_url: Option<Document>,
    /// Every action asked for, in order, `Finished` last.
    actions: Vec<Action>,
}

impl Simulator {
    fn new(script: &str, limits: Limits) -> Self {
        let document = Document::parse(script).unwrap_or_else(|e| panic!("invalid script: {e}"));
        let scope = Scope {
            call: json!({
                "call_id": "c-1", "direction": "inbound", "type": "webrtc",
                "from": "+15550001111", "to": "/public/ivr", "headers": []
            }),
            envs: json!({"crm_token": "t0k"}),
            ..Scope::default()
        };
        Self {
            interpreter: Interpreter::new(document, scope, limits),
            digits: VecDeque::new(),
            connects: VecDeque::new(),
            responses: VecDeque::new(),
            documents: HashMap::new(),
            any_url: None,
            actions: Vec::new(),
        }
    }

    fn digits(mut self, digits: &[&'static str]) -> Self {
        self.digits.extend(digits);
        self
    }

    fn connects(mut self, outcome: Outcome) -> Self {
        self.connects.push_back(outcome);
        self
    }

    fn responds(mut self, status: u16, body: &str) -> Self {
        self.responses.push_back(Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        });
        self
    }

    fn serves(mut self, url: &'static str, script: &str) -> Self {
        let document = Document::parse(script).unwrap_or_else(|e| panic!("invalid SWML: {e}"));
        self.documents.insert(url, document);
        self
    }

    /// Runs the call to its end.
    fn run(&mut self) -> Ending {
        while self.actions.len() < MAX_ACTIONS {
            let action = self.interpreter.next_action();
            if let Action::Finished { ending } = &action {
                let ending = ending.clone();
                self.actions.push(action);
                return ending;
            }
            let outcome = self.outcome(&action);
            self.actions.push(action);
            self.interpreter.resume(outcome);
        }
        panic!("no ending after {MAX_ACTIONS} actions");
    }

    fn outcome(&mut self, action: &Action) -> Outcome {
        match action {
            Action::Prompt(_) => Outcome::Digits {
                digits: self.digits.pop_front().unwrap_or("1").into(),
                terminator: None,
            },
            Action::Record(_) => Outcome::Recorded {
                url: "/api/recordings/r-1".into(),
            },
            Action::RecordCall(record) => Outcome::RecordingStarted {
                control_id: record.control_id.clone().unwrap_or_else(|| "rc-1".into()),
                url: "/api/recordings/rc-1".into(),
            },
            Action::Connect(_) => self.connects.pop_front().unwrap_or(Outcome::Done),
            Action::Request(_) => {
                Outcome::Response(self.responses.pop_front().unwrap_or(Response {
                    status: 200,
                    headers: vec![],
                    body: b"{}".to_vec(),
                }))
            }
            Action::Fetch { url, .. } => {
                match self.documents.get(url.as_str()).or(self.any_url.as_ref()) {
                    Some(document) => Outcome::Document(document.clone()),
                    None => Outcome::Failed {
                        reason: format!("{url}: 404"),
                    },
                }
            }
            _ => Outcome::Done,
        }
    }

    /// Short names of the actions, for comparing flows: `play say:hi`, `connect /public/x`.
    fn flow(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|action| match action {
                Action::Answer { .. } => "answer".to_owned(),
                Action::Play(play) => format!("play {}", play.urls.join(" ")),
                Action::Prompt(prompt) => format!("prompt {}", prompt.play.join(" ")),
                Action::Connect(connect) => {
                    let to: Vec<&str> = connect
                        .dial
                        .iter()
                        .flatten()
                        .map(|d| d.to.as_str())
                        .collect();
                    format!("connect {}", to.join(" "))
                }
                Action::Hangup { reason } => format!("hangup {reason:?}"),
                Action::Request(request) => format!("request {}", request.url),
                Action::Fetch { url, .. } => format!("fetch {url}"),
                Action::Unsupported { method } => format!("unsupported {method}"),
                Action::Finished { ending } => format!("finished {ending}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn fetch_payloads(&self) -> Vec<&serde_json::Value> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Fetch { payload, .. } => Some(payload),
                _ => None,
            })
            .collect()
    }
}

const IVR: &str = r#"
version: 1.0.0
sections:
  main:
    - answer: {}
    - play:
        url: http://127.0.0.1:8000/tone-700.wav
    - prompt:
        play: "say:Press 1 to join the room, 2 to leave."
        max_digits: 1
    - switch:
        variable: prompt_value
        case:
          "1":
            - connect:
                to: /public/room
          "2":
            - hangup:
                reason: decline
        default:
          - hangup: {}
"#;

#[test]
fn an_ivr_connects_on_1() {
    let mut call = Simulator::new(IVR, Limits::default()).digits(&["1"]);
    assert_eq!(call.run(), Ending::End);
    assert_eq!(
        call.flow(),
        [
            "answer",
            "play http://127.0.0.1:8000/tone-700.wav",
            "prompt say:Press 1 to join the room, 2 to leave.",
            "connect /public/room",
            "finished the script ended",
        ]
    );
    let vars = &call.interpreter.scope().vars;
    assert_eq!(vars["prompt_value"], "1");
    assert_eq!(vars["prompt_result"], "match_digits");
    assert_eq!(vars["connect_result"], "connected");
}

#[test]
fn an_ivr_hangs_up_on_2_with_a_cause() {
    let mut call = Simulator::new(IVR, Limits::default()).digits(&["2"]);
    assert_eq!(call.run(), Ending::Hangup(HangupReason::Decline));
    assert_eq!(call.flow()[3], "hangup Decline");
    assert_eq!(call.flow().len(), 5);
}

#[test]
fn a_menu_loop_asks_again_at_most_max_times() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - label: menu
    - prompt:
        play: "say:Press 1."
    - cond:
        - when: "prompt_value == '1'"
          then:
            - play:
                url: "say:Thanks."
            - return: chosen
    - goto:
        label: menu
        max: 2
    - hangup: {}
"#;
    let mut patient = Simulator::new(script, Limits::default()).digits(&["", "7", "1"]);
    assert_eq!(patient.run(), Ending::Returned(json!("chosen")));
    assert_eq!(
        patient
            .flow()
            .iter()
            .filter(|a| a.starts_with("prompt"))
            .count(),
        3
    );
    let mut silent = Simulator::new(script, Limits::default()).digits(&["", "", "", ""]);
    assert_eq!(silent.run(), Ending::Hangup(HangupReason::Hangup));
    assert_eq!(
        silent
            .flow()
            .iter()
            .filter(|a| a.starts_with("prompt"))
            .count(),
        3
    );
    assert_eq!(silent.interpreter.scope().vars["prompt_result"], "no_input");
}

#[test]
fn a_runaway_goto_stops_at_100_jumps_and_a_runaway_transfer_at_the_step_limit() {
    let goto =
        "version: 1.0.0\nsections:\n  main:\n    - label: top\n    - goto:\n        label: top\n";
    let mut call = Simulator::new(goto, Limits::default());
    assert_eq!(call.run(), Ending::End);
    assert_eq!(call.interpreter.steps_by_method()["goto"], 101);
    let transfer = "version: 1.0.0\nsections:\n  main:\n    - transfer:\n        dest: again\n  again:\n    - transfer:\n        dest: main\n";
    let mut call = Simulator::new(transfer, Limits::default());
    assert_eq!(call.run(), Ending::StepLimit(10_000));
    assert_eq!(
        call.flow(),
        ["finished the script ran more than 10000 methods"]
    );
}

#[test]
fn execute_to_a_url_posts_the_payload_and_runs_the_reply() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - set:
        caller: "%{call.from}"
    - execute:
        dest: https://scripts.example.com/hours
        params:
          tz: Europe/Paris
        result:
          case:
            open:
              - connect:
                  to: /public/front-desk
          default:
            - hangup: {}
    - play:
        url: "say:params are %{params.tz}"
"#;
    let reply = r#"{"version": "1.0.0", "sections": {"main": [
        {"play": {"url": "say:%{params.tz}"}}, {"return": "open"}]}}"#;
    let mut call = Simulator::new(script, Limits::default())
        .serves("https://scripts.example.com/hours", reply);
    assert_eq!(call.run(), Ending::End);
    assert_eq!(
        call.flow(),
        [
            "fetch https://scripts.example.com/hours",
            "play say:Europe/Paris",
            "connect /public/front-desk",
            "play say:params are ",
            "finished the script ended",
        ]
    );
    let payload = call.fetch_payloads()[0];
    assert_eq!(payload["params"], json!({"tz": "Europe/Paris"}));
    assert_eq!(payload["vars"]["caller"], "+15550001111");
    assert_eq!(payload["call"]["call_id"], "c-1");
    assert_eq!(payload["envs"]["crm_token"], "t0k");
}

#[test]
fn a_failed_fetch_ends_the_script() {
    let script = "version: 1.0.0\nsections:\n  main:\n    - transfer:\n        dest: https://down.example.com/\n    - play:\n        url: say:unreached\n";
    let mut call = Simulator::new(script, Limits::default());
    let Ending::Error(error) = call.run() else {
        panic!("expected an error: {:?}", call.flow());
    };
    assert_eq!(error.location, "sections.main[0].transfer");
    assert!(
        error.message.contains("https://down.example.com/: 404"),
        "{error}"
    );
}

#[test]
fn transfer_to_a_url_does_not_come_back() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - prompt:
        play: "say:Press a digit."
    - transfer:
        dest: https://app.example.com/next
        params:
          choice: "%{prompt_value}"
    - play:
        url: "say:unreached"
"#;
    let next = "version: 1.0.0\nsections:\n  main:\n    - play:\n        url: \"say:you chose %{params.choice}\"\n";
    let mut call = Simulator::new(script, Limits::default())
        .digits(&["4"])
        .serves("https://app.example.com/next", next);
    assert_eq!(call.run(), Ending::End);
    assert_eq!(call.flow()[2], "play say:you chose 4");
    assert_eq!(call.flow().len(), 4);
    assert_eq!(call.fetch_payloads()[0]["vars"]["prompt_value"], "4");
}

const CRM: &str = r#"
version: 1.0.0
sections:
  main:
    - request:
        url: "https://crm.example.com/lookup?from=%{call.from}"
        method: POST
        body:
          caller: "%{call.from}"
        save_variables: true
    - cond:
        - when: "request_result == 'failed'"
          then:
            - play:
                url: "say:lookup failed with %{request_response_code}"
        - when: "request_response.vip"
          then:
            - connect:
                to: /private/vip-desk
        - else:
            - play:
                url: "say:hello %{request_response.name}"
"#;

#[test]
fn request_with_save_variables_drives_cond() {
    let mut vip = Simulator::new(CRM, Limits::default()).responds(200, r#"{"vip": true}"#);
    vip.run();
    assert_eq!(vip.flow()[1], "connect /private/vip-desk");
    let Action::Request(request) = &vip.actions[0] else {
        panic!("not a request");
    };
    assert_eq!(
        request.url,
        "https://crm.example.com/lookup?from=+15550001111"
    );
    assert_eq!(
        request.body.as_deref(),
        Some(r#"{"caller":"+15550001111"}"#)
    );
    let vars = &vip.interpreter.scope().vars;
    assert_eq!(
        vars["request_response_headers"]["content-type"],
        "application/json"
    );
    assert_eq!(vars["request_result"], "success");
    assert_eq!(
        vars["return_value"], "connected",
        "connect's, after request's"
    );

    let mut known = Simulator::new(CRM, Limits::default()).responds(200, r#"{"name": "Ann"}"#);
    known.run();
    assert_eq!(known.flow()[1], "play say:hello Ann");

    let mut down = Simulator::new(CRM, Limits::default()).responds(503, "busy");
    down.run();
    assert_eq!(down.flow()[1], "play say:lookup failed with 503");
}

#[test]
fn a_failed_connect_drives_cond_and_result() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - connect:
        serial:
          - to: /private/alice
          - to: sip:bob@example.com
        result:
          case:
            connected:
              - play:
                  url: "say:bye"
    - cond:
        - when: "connect_result == 'failed'"
          then:
            - play:
                url: "say:%{connect_failed_reason}"
            - record:
                beep: true
"#;
    let mut call = Simulator::new(script, Limits::default()).connects(Outcome::Failed {
        reason: "no answer".into(),
    });
    assert_eq!(call.run(), Ending::End);
    assert_eq!(
        call.flow()[..2],
        [
            "connect /private/alice sip:bob@example.com",
            "play say:no answer"
        ]
    );
    assert!(matches!(call.actions[2], Action::Record(_)));
    assert_eq!(call.interpreter.scope().vars["record_result"], "success");

    let mut connected = Simulator::new(script, Limits::default());
    connected.run();
    assert_eq!(connected.flow()[1], "play say:bye");
    assert_eq!(connected.flow().len(), 3);
}

#[test]
fn unsupported_methods_are_skipped() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - answer: {}
    - detect_machine:
        detectors: amd
    - send_sms:
        to_number: "+15550002222"
        from_number: "+15550003333"
        body: hi
    - play:
        url: say:still here
"#;
    let mut call = Simulator::new(script, Limits::default());
    assert_eq!(call.run(), Ending::End);
    assert_eq!(
        call.flow(),
        [
            "answer",
            "unsupported detect_machine",
            "unsupported send_sms",
            "play say:still here",
            "finished the script ended",
        ]
    );
}

#[test]
fn recursive_execute_hits_the_depth_limit() {
    let script = r#"
version: 1.0.0
sections:
  main:
    - prompt:
        play: "say:Press 1 to hear this again."
    - cond:
        - when: "prompt_value == '1'"
          then:
            - execute:
                dest: main
"#;
    let mut call = Simulator::new(script, Limits::default());
    assert_eq!(call.run(), Ending::DepthLimit(32));
    assert_eq!(
        call.flow()
            .iter()
            .filter(|a| a.starts_with("prompt"))
            .count(),
        33
    );
}

/// The example scripts (`tests/examples/`), by file name.
fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/examples");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = fs::read_to_string(&path).expect("example text");
            (name, text)
        })
        .collect()
}

#[test]
fn every_example_runs_to_its_end() {
    let examples = examples();
    assert!(examples.len() >= 20, "only {} examples", examples.len());
    let fetched = r#"{"version": "1.0.0", "sections": {"main": [
        {"play": {"url": "say:fetched %{params}"}}, {"return": "open"}]}}"#;
    let mut failures = Vec::new();
    for (name, text) in &examples {
        let mut call = Simulator::new(text, Limits::default());
        call.any_url = Document::parse(fetched).ok();
        let ending = call.run();
        let ok = matches!(
            ending,
            Ending::End | Ending::Returned(_) | Ending::Hangup(_)
        );
        if !ok || call.actions.len() < 2 {
            failures.push(format!("{name}: {ending} after {:?}", call.flow()));
        }
    }
    assert!(
        failures.is_empty(),
        "examples that did not run through:\n{}",
        failures.join("\n")
    );
}
