use serde_json::{Value, json};

use super::*;
use crate::expr::tests::{XorShift, random_text};

fn scope() -> Scope {
    let Value::Object(vars) = json!({
        "n": 5,
        "half": 1.5,
        "whole": 2.0,
        "flag": true,
        "digit": "1",
        "nothing": null,
        "list": [1, "two"],
        "obj": {"k": "v"},
        "caller-id": "dashed",
    }) else {
        unreachable!("an object literal")
    };
    Scope {
        call: json!({"from": "alice", "to": "/public/ivr"}),
        params: json!({"items": [{"name": "Ann"}]}),
        vars,
        envs: json!({"region": "eu"}),
    }
}

fn subst(text: &str) -> Value {
    let (value, errors) = substitute_str_checked(text, &scope());
    assert_eq!(errors, vec![], "{text}");
    value
}

#[test]
fn a_lone_placeholder_keeps_the_type() {
    for (text, expected) in [
        ("%{vars.n}", json!(5)),
        ("${vars.n}", json!(5)),
        ("%{ vars.n }", json!(5)),
        ("%{vars.half}", json!(1.5)),
        ("%{vars.flag}", json!(true)),
        ("%{vars.list}", json!([1, "two"])),
        ("${vars.obj}", json!({"k": "v"})),
        ("%{params.items[0].name}", json!("Ann")),
        ("%{vars.n + 1}", json!(6)),
        ("%{vars.n > 3}", json!(true)),
        ("%{vars.digit == 1 ? 'one' : 'other'}", json!("one")),
        ("%{true}", json!(true)),
        ("%{1}", json!(1)),
        ("%{1.5}", json!(1.5)),
        ("%{vars.n-1}", json!("")),
        ("%{vars.n - 1}", json!(4)),
        ("%{vars.caller-id}", json!("dashed")),
    ] {
        assert_eq!(subst(text), expected, "{text}");
    }
}

#[test]
fn unset_and_null_become_empty() {
    for text in [
        "%{vars.none}",
        "%{vars.nothing}",
        "%{none.deep[0].path}",
        "%{vars.unset-name}",
        "%{null}",
        "%{1 / 0}",
    ] {
        assert_eq!(subst(text), json!(""), "{text}");
    }
    assert_eq!(subst("a%{vars.none}b${vars.nothing}c"), json!("abc"));
}

#[test]
fn placeholders_inside_text_become_text() {
    for (text, expected) in [
        ("Hello %{call.from}!", "Hello alice!"),
        ("%{vars.n}%{vars.n}", "55"),
        (" %{vars.n}", " 5"),
        ("n=${vars.half}", "n=1.5"),
        ("n=${vars.whole}", "n=2"),
        ("%{vars.n / 2} calls", "2.5 calls"),
        ("%{1 / 3}s", "0.3333333333333333s"),
        ("x=%{vars.flag}", "x=true"),
        ("x=%{vars.list}", r#"x=[1,"two"]"#),
        ("x=%{vars.obj}", r#"x={"k":"v"}"#),
        (
            "to %{call.to} from %{envs.region}",
            "to /public/ivr from eu",
        ),
        ("%{vars.digit + 1}!", "11!"),
        ("call %{call.from.toUpperCase()} now", "call ALICE now"),
    ] {
        assert_eq!(subst(text), json!(expected), "{text}");
    }
}

#[test]
fn dollar_and_percent_alone_are_literal() {
    for text in [
        "100% sure",
        "$5",
        "50%",
        "$",
        "%",
        "a$b%c",
        "{vars.n}",
        "% {vars.n}",
        "$ {vars.n}",
        "}",
        "",
    ] {
        assert_eq!(subst(text), json!(text), "{text}");
    }
    assert_eq!(subst("%%{vars.n}"), json!("%5"));
    assert_eq!(subst("$${vars.n}"), json!("$5"));
    assert_eq!(subst("50% of %{vars.n}$"), json!("50% of 5$"));
}

#[test]
fn braces_inside_string_literals() {
    assert_eq!(subst("%{vars.digit == '}' ? 1 : 2}"), json!(2));
    assert_eq!(subst("%{'}' + vars.n}"), json!("}5"));
    assert_eq!(subst(r#"%{"{" + '}'}"#), json!("{}"));
    assert_eq!(subst(r"%{'a\'}' + 1}"), json!("a'}1"));
    assert_eq!(subst("x %{'${vars.n}'} y"), json!("x ${vars.n} y"));
    assert_eq!(subst("[%{'}'}] [%{'{'}]"), json!("[}] [{]"));
}

#[test]
fn failures_become_empty_and_are_reported() {
    let (value, errors) = substitute_str_checked("a %{1 +} b", &scope());
    assert_eq!(value, json!("a  b"));
    assert_eq!(
        errors,
        vec![SubstError {
            placeholder: "%{1 +}".into(),
            error: ExprError::Syntax {
                position: 3,
                message: "unexpected end of input".into()
            }
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "`%{1 +}`: syntax error at 3: unexpected end of input"
    );

    let (value, errors) = substitute_str_checked("${vars.list.map(f)}", &scope());
    assert_eq!(value, json!(""));
    assert!(matches!(
        &errors[..],
        [SubstError {
            error: ExprError::Unsupported(_),
            ..
        }]
    ));

    let (value, errors) = substitute_str_checked("%{vars.none.trim()} ok", &scope());
    assert_eq!(value, json!(" ok"));
    assert!(matches!(
        &errors[..],
        [SubstError {
            error: ExprError::Type(_),
            ..
        }]
    ));
}

#[test]
fn an_unclosed_placeholder_stays_text_and_is_reported() {
    let (value, errors) = substitute_str_checked("%{vars.n} and %{vars.n", &scope());
    assert_eq!(value, json!("5 and %{vars.n"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].placeholder, "%{vars.n");
    assert!(matches!(
        errors[0].error,
        ExprError::Syntax { position: 6, .. }
    ));
}

#[test]
fn arrays_and_objects_are_substituted_but_not_keys() {
    let document = json!({
        "a": "%{vars.n}",
        "b": ["x %{call.from}", {"c": "%{vars.flag}"}, 7, null, false],
        "%{vars.n}": "key stays",
        "d": 2.5,
    });
    let (value, errors) = substitute_checked(&document, &scope());
    assert_eq!(
        value,
        json!({
            "a": 5,
            "b": ["x alice", {"c": true}, 7, null, false],
            "%{vars.n}": "key stays",
            "d": 2.5,
        })
    );
    assert_eq!(errors, vec![]);
    assert_eq!(substitute(&document, &scope()), value);

    let (_, errors) = substitute_checked(&json!(["%{1 +}", {"k": "%{2 *}"}]), &scope());
    assert_eq!(errors.len(), 2);
}

#[test]
fn the_unchecked_functions_agree_with_the_checked_ones() {
    for text in ["%{vars.n}", "a %{1 +} b", "%{vars.none}", "plain"] {
        assert_eq!(
            substitute_str(text, &scope()),
            substitute_str_checked(text, &scope()).0
        );
    }
}

#[test]
fn many_unclosed_openers_are_scanned_quickly() {
    let text = "%{'".repeat(20_000);
    let (value, errors) = substitute_str_checked(&text, &scope());
    assert_eq!(value, json!(text));
    assert_eq!(errors.len(), 1);
}

#[test]
fn random_input_never_panics() {
    let scope = scope();
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut replaced = 0;
    for _ in 0..5000 {
        let text = random_text(&mut rng);
        let (value, errors) = substitute_str_checked(&text, &scope);
        if !text.contains('{') {
            assert_eq!(value, json!(text), "no placeholder: unchanged");
            assert!(errors.is_empty());
        } else if value != json!(text) {
            replaced += 1;
        }
    }
    assert!(replaced > 100, "{replaced} texts had placeholders replaced");
}

#[test]
fn placeholder_values_prefer_variable_paths() {
    let scope = scope();
    assert_eq!(
        placeholder_value("vars.caller-id", &scope),
        Ok(json!("dashed"))
    );
    assert_eq!(
        placeholder_value("vars.unset-name", &scope),
        Ok(Value::Null)
    );
    assert_eq!(placeholder_value(" vars.n ", &scope), Ok(json!(5)));
    assert_eq!(placeholder_value("vars.n - 1", &scope), Ok(json!(4)));
    assert_eq!(placeholder_value("true", &scope), Ok(json!(true)));
    assert!(matches!(
        placeholder_value("vars.n +", &scope),
        Err(ExprError::Syntax { .. })
    ));
    // `evaluate` itself is plain JavaScript: the same text is a subtraction there.
    assert_eq!(
        crate::expr::evaluate("vars.unset-name", &scope),
        Ok(json!(0))
    );
}
