//! Validation through the public API: each invalid document fails at the expected JSON path
//! with a message that says what is expected, and the edge cases that are valid stay valid.

use serde_json::{Value, json};
use weft_swml::validate::{
    CALLING_METHODS, MAX_DEPTH, MAX_YAML_FLOW_COLLECTIONS, is_calling_method,
};
use weft_swml::{Document, Invalid};

/// The error `text` fails with.
fn invalid(text: &str) -> Invalid {
    match Document::parse(text) {
        Ok(document) => panic!("expected invalid, parsed {document:?}"),
        Err(invalid) => invalid,
    }
}

/// Asserts that `text` fails at `path` with a message containing each of `fragments`.
fn assert_invalid(text: &str, path: &str, fragments: &[&str]) {
    let error = invalid(text);
    assert_eq!(error.path, path, "wrong path in: {error}");
    for fragment in fragments {
        assert!(
            error.message.contains(fragment),
            "message {:?} lacks {fragment:?}",
            error.message
        );
    }
}

/// A JSON document whose `main` section holds `methods` (a JSON array body).
fn main_with(methods: &str) -> String {
    format!(r#"{{"version": "1.0.0", "sections": {{"main": [{methods}]}}}}"#)
}

fn assert_valid(text: &str) -> Document {
    Document::parse(text).unwrap_or_else(|e| panic!("expected valid, got {e}"))
}

#[test]
fn main_section_is_required() {
    assert_invalid(
        r#"{"version": "1.0.0", "sections": {"other": []}}"#,
        "sections",
        &["missing the `main` section"],
    );
    assert_invalid(r#"{"version": "1.0.0"}"#, "", &["missing `sections`"]);
}

#[test]
fn a_section_is_an_array() {
    assert_invalid(
        r#"{"sections": {"main": {"answer": {}}}}"#,
        "sections.main",
        &["a section is an array of methods", "got an object"],
    );
}

#[test]
fn a_method_has_exactly_one_key() {
    assert_invalid(
        &main_with(r#"{"answer": {}, "play": {"url": "say:hi"}}"#),
        "sections.main[0]",
        &["exactly one key", "found 2 keys: answer, play"],
    );
    assert_invalid(
        &main_with(r#"{"answer": {}}, {}"#),
        "sections.main[1]",
        &["exactly one key", "found 0 keys"],
    );
    assert_invalid(
        &main_with(r#""answer""#),
        "sections.main[0]",
        &["a method is an object", "got the string \"answer\""],
    );
}

#[test]
fn unknown_methods_are_rejected() {
    assert_invalid(
        &main_with(r#"{"answer": {}}, {"plya": {"url": "say:hi"}}"#),
        "sections.main[1]",
        &["unknown method `plya`"],
    );
}

#[test]
fn unknown_top_level_keys_are_rejected() {
    assert_invalid(
        r#"{"version": "1.0.0", "sections": {"main": []}, "extra": 1}"#,
        "extra",
        &["unknown top-level key"],
    );
}

#[test]
fn version_is_1_0_0_or_left_out() {
    assert_eq!(
        assert_valid(r#"{"sections": {"main": []}}"#).version,
        "1.0.0"
    );
    assert_eq!(
        assert_valid("version: 1.0.0\nsections:\n  main: []\n").version,
        "1.0.0"
    );
    assert_invalid(
        r#"{"version": "2.0.0", "sections": {"main": []}}"#,
        "version",
        &["expected \"1.0.0\"", "\"2.0.0\""],
    );
    assert_invalid(
        "version: 1.0\nsections:\n  main: []\n",
        "version",
        &["expected \"1.0.0\"", "the number 1.0"],
    );
}

#[test]
fn play_needs_url_or_urls() {
    assert_invalid(
        &main_with(r#"{"answer": {}}, {"answer": {}}, {"play": {"volume": 3}}"#),
        "sections.main[2].play",
        &["exactly one of `url`, `urls`", "found none"],
    );
    assert_invalid(
        &main_with(r#"{"play": {"url": "say:a", "urls": ["say:b"]}}"#),
        "sections.main[0].play",
        &["found url and urls"],
    );
    assert_invalid(
        &main_with(r#"{"answer": {}}, {"answer": {}}, {"play": {"url": "/tmp/a.wav"}}"#),
        "sections.main[2].play.url",
        &["expected a playable URL", "\"/tmp/a.wav\""],
    );
    assert_invalid(
        &main_with(r#"{"play": {"urls": ["say:a", "ftp://x/b.wav"]}}"#),
        "sections.main[0].play.urls[1]",
        &["expected a playable URL"],
    );
    assert_invalid(
        &main_with(r#"{"play": {"url": "say:a", "volume": 50}}"#),
        "sections.main[0].play.volume",
        &["from -40 to 40", "got 50"],
    );
}

#[test]
fn unknown_parameters_are_rejected() {
    assert_invalid(
        &main_with(r#"{"play": {"url": "say:a", "loop": 2}}"#),
        "sections.main[0].play.loop",
        &["unknown parameter", "`play` takes url, urls"],
    );
    assert_invalid(
        &main_with(r#"{"denoise": {"level": 2}}"#),
        "sections.main[0].denoise.level",
        &["`denoise` takes no parameters"],
    );
}

#[test]
fn hangup_reason_is_an_enum() {
    assert_invalid(
        &main_with(r#"{"hangup": {"reason": "bye"}}"#),
        "sections.main[0].hangup.reason",
        &[
            "expected one of \"hangup\", \"busy\", \"decline\"",
            "got the string \"bye\"",
        ],
    );
    assert_valid(&main_with(r#"{"hangup": {"reason": "decline"}}"#));
}

#[test]
fn send_digits_are_dtmf() {
    assert_invalid(
        &main_with(r#"{"send_digits": {"digits": "12x#"}}"#),
        "sections.main[0].send_digits.digits",
        &["expected digits to send (0-9, *, #, A-D", "\"12x#\""],
    );
    assert_invalid(
        &main_with(r#"{"send_digits": {"digits": ""}}"#),
        "sections.main[0].send_digits.digits",
        &["an empty string"],
    );
    assert_invalid(
        &main_with(r#"{"send_digits": {}}"#),
        "sections.main[0].send_digits",
        &["missing required parameter `digits`"],
    );
    assert_valid(&main_with(
        r#"{"send_digits": {"digits": "0123456789*#ABCDWw"}}, {"send_digits": {"digits": "%{vars.pin}#"}}"#,
    ));
}

#[test]
fn connect_takes_exactly_one_kind_of_destination() {
    assert_invalid(
        &main_with(r#"{"connect": {"to": "sip:a@example.com", "serial": [{"to": "+15550001"}]}}"#),
        "sections.main[0].connect",
        &[
            "expected exactly one of `to`, `serial`, `parallel`, `serial_parallel`",
            "found to and serial",
        ],
    );
    assert_invalid(
        &main_with(r#"{"connect": {"timeout": 5}}"#),
        "sections.main[0].connect",
        &["found none"],
    );
    assert_invalid(
        &main_with(r#"{"connect": {"parallel": [{"to": "+15550001"}, {"timeout": 3}]}}"#),
        "sections.main[0].connect.parallel[1]",
        &["missing required parameter `to`"],
    );
    assert_invalid(
        &main_with(r#"{"connect": {"serial": []}}"#),
        "sections.main[0].connect.serial",
        &["at least one destination"],
    );
    assert_invalid(
        &main_with(r#"{"connect": {"to": "/public/room", "headers": [{"name": "X-A"}]}}"#),
        "sections.main[0].connect.headers[0]",
        &["missing required parameter `value`"],
    );
    assert_invalid(
        &main_with(r#"{"connect": {"serial": [{"to": "/public/a"}], "codec": "PCMU"}}"#),
        "sections.main[0].connect.codec",
        &["unknown parameter"],
    );
}

#[test]
fn yaml_phone_numbers_must_be_quoted() {
    let text = "sections:\n  main:\n    - connect:\n        to: +15551234567\n";
    assert_invalid(
        text,
        "sections.main[0].connect.to",
        &["expected a string", "the number 15551234567", "quote"],
    );
}

#[test]
fn goto_max_is_an_integer_from_1_to_100() {
    for (max, fragment) in [
        ("2.5", "expected an integer"),
        ("\"three\"", "expected an integer or a variable"),
        ("500", "from 1 to 100"),
        ("0", "from 1 to 100"),
    ] {
        assert_invalid(
            &main_with(&format!(
                r#"{{"label": "top"}}, {{"goto": {{"label": "top", "max": {max}}}}}"#
            )),
            "sections.main[1].goto.max",
            &[fragment],
        );
    }
    assert_invalid(
        &main_with(r#"{"goto": {"max": 3}}"#),
        "sections.main[0].goto",
        &["missing required parameter `label`"],
    );
}

#[test]
fn variables_stand_for_typed_values() {
    assert_valid(&main_with(
        r#"{"label": "top"},
           {"goto": {"label": "top", "max": "%{vars.retries}"}},
           {"prompt": {"play": "say:x", "max_digits": "${vars.digits}", "digit_timeout": "%{vars.t}"}},
           {"sleep": "%{vars.ms}"},
           {"sleep": {"duration": "${params.ms}"}},
           {"request": {"url": "https://x.example.com", "method": "GET", "save_variables": "%{vars.save}"}},
           {"record_call": {"beep": "%{vars.beep}"}}"#,
    ));
    assert_invalid(
        &main_with(r#"{"prompt": {"play": "say:x", "max_digits": "vars.digits"}}"#),
        "sections.main[0].prompt.max_digits",
        &["expected an integer or a variable such as \"%{vars.n}\""],
    );
    assert_invalid(
        &main_with(r#"{"request": {"url": "u", "method": "GET", "save_variables": "yes"}}"#),
        "sections.main[0].request.save_variables",
        &["expected true, false or a variable"],
    );
}

#[test]
fn sleep_takes_milliseconds_duration_or_a_variable() {
    assert_valid(&main_with(
        r#"{"sleep": 1000}, {"sleep": -1}, {"sleep": {"duration": 250}}"#,
    ));
    assert_invalid(
        &main_with(r#"{"sleep": -5}"#),
        "sections.main[0].sleep",
        &["at least -1"],
    );
    assert_invalid(
        &main_with(r#"{"sleep": [1]}"#),
        "sections.main[0].sleep",
        &["expected milliseconds"],
    );
    assert_invalid(
        &main_with(r#"{"sleep": {}}"#),
        "sections.main[0].sleep",
        &["missing required parameter `duration`"],
    );
}

#[test]
fn nested_method_arrays_are_validated_with_their_paths() {
    let text = r#"{"sections": {
        "main": [{"execute": {"dest": "sub"}}],
        "sub": [
            {"answer": {}},
            {"cond": [{"when": "vars.x == 1", "then": [
                {"answer": {}}, {"sleep": 1}, {"label": "l"}, {"goto": {"label": 5}}
            ]}]}
        ]}}"#;
    assert_invalid(
        text,
        "sections.sub[1].cond[0].then[3].goto.label",
        &["expected a string, got the number 5"],
    );
    assert_invalid(
        &main_with(
            r#"{"switch": {"variable": "prompt_value", "case": {"1": [{"hangup": {"reason": "x"}}]}}}"#,
        ),
        "sections.main[0].switch.case.1[0].hangup.reason",
        &["expected one of"],
    );
    assert_invalid(
        &main_with(r#"{"switch": {"variable": "v", "case": {"+1 555": [{"nope": {}}]}}}"#),
        r#"sections.main[0].switch.case["+1 555"][0]"#,
        &["unknown method `nope`"],
    );
    assert_invalid(
        &main_with(r#"{"execute": {"dest": "main", "on_return": [{"play": {}}]}}"#),
        "sections.main[0].execute.on_return[0].play",
        &["exactly one of"],
    );
    assert_invalid(
        &main_with(
            r#"{"connect": {"to": "/public/a", "result": {"case": {"failed": [{"sleep": "x"}]}}}}"#,
        ),
        "sections.main[0].connect.result.case.failed[0].sleep",
        &["expected an integer or a variable"],
    );
    assert_invalid(
        &main_with(
            r#"{"connect": {"to": "/public/a", "confirm": [{"prompt": {"play": "say:x"}}, {"hangup": 1}]}}"#,
        ),
        "sections.main[0].connect.confirm[1].hangup",
        &["expected an object"],
    );
}

#[test]
fn cond_entries_are_when_then_or_else() {
    assert_invalid(
        &main_with(r#"{"cond": [{"then": [{"answer": {}}]}]}"#),
        "sections.main[0].cond[0]",
        &["missing required parameter `when`"],
    );
    assert_invalid(
        &main_with(r#"{"cond": [{}]}"#),
        "sections.main[0].cond[0]",
        &["needs `when` and `then`, or only `else`"],
    );
    assert_invalid(
        &main_with(r#"{"cond": [{"when": "true", "then": [], "otherwise": []}]}"#),
        "sections.main[0].cond[0].otherwise",
        &["a `cond` entry takes when, then, else"],
    );
    assert_invalid(
        &main_with(r#"{"cond": {"when": "true", "then": []}}"#),
        "sections.main[0].cond",
        &["expected an array"],
    );
}

#[test]
fn execute_and_transfer_to_a_plain_name_need_that_section() {
    assert_invalid(
        &main_with(r#"{"execute": {"dest": "sales"}}"#),
        "sections.main[0].execute.dest",
        &["no section named \"sales\"", "it has main"],
    );
    assert_invalid(
        &main_with(r#"{"transfer": {"dest": "support"}}"#),
        "sections.main[0].transfer.dest",
        &["no section named \"support\""],
    );
    assert_valid(&main_with(
        r#"{"execute": {"dest": "https://example.com/next.yaml"}},
           {"execute": {"dest": "%{vars.next}"}},
           {"transfer": {"dest": "relay:my-app"}},
           {"transfer": {"dest": "{\"sections\": {\"main\": []}}"}}"#,
    ));
}

#[test]
fn other_parameter_checks() {
    assert_invalid(
        &main_with(r#"{"request": {"url": "https://x.example.com"}}"#),
        "sections.main[0].request",
        &["missing required parameter `method`"],
    );
    assert_invalid(
        &main_with(r#"{"request": {"url": "https://x.example.com", "method": "PATCH"}}"#),
        "sections.main[0].request.method",
        &["\"GET\", \"POST\", \"PUT\", \"DELETE\""],
    );
    assert_invalid(
        &main_with(r#"{"join_room": {"name": "my room"}}"#),
        "sections.main[0].join_room.name",
        &["letters, digits, _ and -"],
    );
    assert_invalid(
        &main_with(r#"{"tap": {"uri": "http://x.example.com"}}"#),
        "sections.main[0].tap.uri",
        &["rtp:// or ws:// or wss://"],
    );
    assert_invalid(
        &main_with(r#"{"record_call": {"direction": "sideways"}}"#),
        "sections.main[0].record_call.direction",
        &["\"speak\", \"listen\", \"both\""],
    );
    assert_invalid(
        &main_with(r##"{"prompt": {"play": "say:x", "terminators": "#!"}}"##),
        "sections.main[0].prompt.terminators",
        &["DTMF keys"],
    );
    assert_invalid(
        &main_with(r#"{"unset": ["a", 1]}"#),
        "sections.main[0].unset[1]",
        &["expected a string"],
    );
    assert_invalid(
        &main_with(r#"{"user_event": {"event": "hello"}}"#),
        "sections.main[0].user_event.event",
        &["expected an object"],
    );
    assert_invalid(
        &main_with(r#"{"stream": {"url": "https://x.example.com"}}"#),
        "sections.main[0].stream.url",
        &["wss:// or ws://"],
    );
    assert_invalid(
        &main_with(r#"{"ai": "be helpful"}"#),
        "sections.main[0].ai",
        &["expected an object"],
    );
}

#[test]
fn methods_weft_does_not_run_take_any_object() {
    assert_valid(&main_with(
        r#"{"ai": {"prompt": {"text": "Be helpful."}, "anything": [1, 2]}},
           {"send_sms": {"to_number": "+15550001", "from_number": "+15550002", "body": "hi"}},
           {"detect_machine": {}},
           {"return": [1, {"a": null}]}"#,
    ));
}

#[test]
fn every_calling_method_of_the_spec_is_known() {
    let spec = [
        "answer",
        "hangup",
        "sleep",
        "label",
        "goto",
        "execute",
        "transfer",
        "return",
        "set",
        "unset",
        "switch",
        "cond",
        "request",
        "user_event",
        "play",
        "prompt",
        "record",
        "record_call",
        "stop_record_call",
        "send_digits",
        "denoise",
        "stop_denoise",
        "detect_machine",
        "live_transcribe",
        "live_translate",
        "transcribe",
        "transcribe_stop",
        "connect",
        "join_room",
        "join_conference",
        "enter_queue",
        "sip_refer",
        "tap",
        "stop_tap",
        "stream",
        "stop_stream",
        "send_sms",
        "send_fax",
        "receive_fax",
        "pay",
        "ai",
        "ai_sidecar",
        "amazon_bedrock",
    ];
    assert_eq!(spec.len(), 43);
    for name in spec {
        assert!(is_calling_method(name), "{name}");
    }
    let mut known = CALLING_METHODS.to_vec();
    let mut expected = spec.to_vec();
    known.sort_unstable();
    expected.sort_unstable();
    assert_eq!(known, expected);
    assert!(!is_calling_method("reply"));
}

/// `{"sections": {"main": [ cond → then → cond → … (levels deep) ]}}`.
fn nested_conds(levels: usize) -> Value {
    let mut methods = json!([{"hangup": {}}]);
    for _ in 0..levels {
        methods = json!([{"cond": [{"when": "true", "then": methods}]}]);
    }
    json!({"sections": {"main": methods}})
}

#[test]
fn nesting_is_limited() {
    // Each cond level is four levels of arrays and objects; 14 levels fit in 64.
    assert!(Document::from_value(&nested_conds(14)).is_ok());
    let error = Document::from_value(&nested_conds(20)).expect_err("too deep");
    assert!(error.message.contains("nested too deeply"), "{error}");
    assert!(error.message.contains(&MAX_DEPTH.to_string()), "{error}");
    assert!(
        error
            .path
            .starts_with("sections.main[0].cond[0].then[0].cond[0]"),
        "{error}"
    );
    // The same through text.
    let error = invalid(&nested_conds(20).to_string());
    assert!(error.message.contains("nested too deeply"), "{error}");
}

#[test]
fn hostile_nesting_fails_cleanly() {
    let deep_value = (0..1_000).fold(json!([]), |inner, _| json!([inner]));
    let document = json!({"sections": {"main": [{"return": deep_value}]}});
    let error = Document::from_value(&document).expect_err("too deep");
    assert!(error.message.contains("nested too deeply"), "{error}");

    let deep_json = format!(
        r#"{{"sections": {{"main": [{{"return": {}{}}}]}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(invalid(&deep_json).message.starts_with("not valid JSON"));

    // YAML's inline collections are counted before the parser (quadratic in their nesting)
    // sees them; up to the limit, the parser's own recursion limit rejects deep nesting.
    let deep_yaml = |levels: usize| {
        format!(
            "sections:\n  main:\n    - return: {}{}\n",
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    let error = invalid(&deep_yaml(100_000));
    assert_eq!(error.path, "");
    assert!(
        error.message.contains("inline [ ] or { } collections"),
        "{error}"
    );
    let error = invalid(&deep_yaml(MAX_YAML_FLOW_COLLECTIONS));
    assert!(error.message.starts_with("not valid YAML"), "{error}");
    assert!(error.message.contains("recursion limit"), "{error}");
}

#[test]
fn yaml_alias_bombs_fail_cleanly() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let prev = level - 1;
        text.push_str(&format!(
            "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    text.push_str("sections:\n  main:\n    - return: *a9\n");
    assert!(invalid(&text).message.starts_with("not valid YAML"));
}

#[test]
fn syntax_errors_have_an_empty_path_and_a_position() {
    let error = invalid("version: 1.0.0\nsections:\n  main: [answer: {}\n");
    assert_eq!(error.path, "");
    assert!(error.message.starts_with("not valid YAML"), "{error}");
    assert!(error.message.contains("line"), "{error}");

    let error = invalid("{\"sections\": {\"main\": [}");
    assert_eq!(error.path, "");
    assert!(error.message.starts_with("not valid JSON"), "{error}");
    assert!(error.message.contains("line 1 column"), "{error}");
}

#[test]
fn a_document_is_an_object() {
    for text in ["[1, 2]", "just some text", "", "42"] {
        assert_invalid(text, "", &["a SWML document is an object"]);
    }
}

#[test]
fn json_and_yaml_forms_are_the_same_document() {
    let json_form = assert_valid(
        r#"{"version": "1.0.0", "sections": {"main": [
            {"answer": {}},
            {"prompt": {"play": "say:Press 1", "max_digits": 1}},
            {"switch": {"variable": "prompt_value", "case": {"1": [{"hangup": {"reason": "busy"}}]}}}
        ]}}"#,
    );
    let yaml_form = assert_valid(
        "\u{feff}version: 1.0.0\nsections:\n  main:\n    - answer: {}\n    - prompt:\n        play: 'say:Press 1'\n        max_digits: 1\n    - switch:\n        variable: prompt_value\n        case:\n          1:\n            - hangup:\n                reason: busy\n",
    );
    assert_eq!(json_form, yaml_form);
    let main = &json_form.sections["main"];
    assert_eq!(main.len(), 3);
    assert_eq!(main[1].name, "prompt");
    assert_eq!(
        main[1].params,
        json!({"play": "say:Press 1", "max_digits": 1})
    );
}

#[test]
fn errors_display_path_and_message() {
    let error = invalid(&main_with(r#"{"plya": {}}"#));
    assert!(
        error
            .to_string()
            .starts_with("sections.main[0]: unknown method `plya`"),
        "{error}"
    );
    assert!(invalid("[]").to_string().starts_with("a SWML document"));
}
