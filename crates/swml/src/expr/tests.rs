//! Tests of the whole evaluator: source in, JSON out.

use serde_json::{Map, Value, json};

use super::*;

fn scope() -> Scope {
    let Value::Object(vars) = json!({
        "digit": "1",
        "n": 5,
        "flag": true,
        "empty": "",
        "zero": 0,
        "nothing": null,
        "list": [1, 2, 3],
        "obj": {"k": "v"},
        "name": "Alice",
        "half": 1.5,
    }) else {
        unreachable!("an object literal")
    };
    Scope {
        call: json!({
            "from": "+15551230000",
            "to": "/public/ivr",
            "direction": "inbound",
            "headers": [{"name": "X-Id", "value": "7"}],
        }),
        params: json!({"greeting": "Hello", "list": [{"name": "Ann"}, {"name": "Bo"}]}),
        vars,
        envs: json!({"region": "eu", "name": "from envs"}),
    }
}

fn eval(source: &str) -> Value {
    match evaluate(source, &scope()) {
        Ok(value) => value,
        Err(e) => panic!("{source}: {e}"),
    }
}

fn error(source: &str) -> ExprError {
    match evaluate(source, &scope()) {
        Ok(value) => panic!("{source}: evaluated to {value}"),
        Err(e) => e,
    }
}

fn check(cases: &[(&str, Value)]) {
    for (source, expected) in cases {
        assert_eq!(&eval(source), expected, "{source}");
    }
}

#[test]
fn literals() {
    check(&[
        ("42", json!(42)),
        ("1.5", json!(1.5)),
        (".5", json!(0.5)),
        ("1e3", json!(1000)),
        ("'single'", json!("single")),
        (r#""double""#, json!("double")),
        (r"'it\'s'", json!("it's")),
        (r"'back\\slash'", json!("back\\slash")),
        ("true", json!(true)),
        ("false", json!(false)),
        ("null", Value::Null),
        ("undefined", Value::Null),
        ("  ( 7 )  ", json!(7)),
    ]);
}

#[test]
fn paths_read_the_scope_and_unset_is_null() {
    check(&[
        ("call.from", json!("+15551230000")),
        ("vars.digit", json!("1")),
        ("digit", json!("1")),
        ("region", json!("eu")),
        ("name", json!("Alice")),
        ("envs.name", json!("from envs")),
        ("direction", json!("inbound")),
        ("params.list[1].name", json!("Bo")),
        ("params.list[0]['name']", json!("Ann")),
        ("params['greeting']", json!("Hello")),
        ("vars.list[vars.list.length - 1]", json!(3)),
        ("list['1']", json!(2)),
        ("call.headers[0].value", json!("7")),
        ("vars.obj", json!({"k": "v"})),
        ("vars.nothing", Value::Null),
        ("vars.none", Value::Null),
        ("none.deeper[3].path", Value::Null),
        ("vars.digit.x", Value::Null),
        ("vars.list[7]", Value::Null),
        ("vars.list[-1]", Value::Null),
        ("params.list[0].name.missing.more", Value::Null),
    ]);
    assert_eq!(
        evaluate("vars.n", &Scope::default()).unwrap(),
        Value::Null,
        "an empty scope"
    );
}

#[test]
fn length_and_indexing() {
    check(&[
        ("vars.name.length", json!(5)),
        ("vars.list.length", json!(3)),
        ("params.list.length", json!(2)),
        ("'😀'.length", json!(2)),
        ("''.length", json!(0)),
        ("(vars.name + '!').length", json!(6)),
        ("vars.name[0]", json!("A")),
        ("'abc'[2]", json!("c")),
        ("vars.obj.length", Value::Null),
        ("vars.n.length", Value::Null),
    ]);
}

#[test]
fn methods() {
    check(&[
        ("vars.name.toLowerCase()", json!("alice")),
        ("vars.name.toUpperCase()", json!("ALICE")),
        ("'  x \\t\\n'.trim()", json!("x")),
        ("vars.name.includes('lic')", json!(true)),
        ("vars.name.includes('x')", json!(false)),
        ("vars.name.startsWith('Al')", json!(true)),
        ("vars.name.startsWith('al')", json!(false)),
        ("vars.name.endsWith('ce')", json!(true)),
        ("vars.name.toLowerCase().startsWith('al')", json!(true)),
        ("'a1'.includes(1)", json!(true)),
        ("vars.list.includes(2)", json!(true)),
        ("vars.list.includes('2')", json!(false)),
        ("vars.list.includes(4)", json!(false)),
        ("params.list.includes(params.list[1])", json!(true)),
        ("vars.name.trim().length", json!(5)),
        ("call.from.startsWith('+1') ? 'us' : 'other'", json!("us")),
    ]);
}

#[test]
fn method_errors() {
    assert!(matches!(error("vars.none.toLowerCase()"), ExprError::Type(m) if m.contains("null")));
    assert!(matches!(error("vars.n.trim()"), ExprError::Type(m) if m.contains("number")));
    assert!(matches!(
        error("vars.obj.startsWith('a')"),
        ExprError::Type(_)
    ));
    assert!(matches!(error("vars.name.includes()"), ExprError::Type(_)));
    assert!(matches!(
        error("'ab'.includes('a', 1)"),
        ExprError::Unsupported(_)
    ));
    let ExprError::Unsupported(message) = error("vars.name.replace('a', 'b')") else {
        panic!("replace");
    };
    assert!(message.contains("`replace`"), "{message}");
    assert!(message.contains("toLowerCase"), "{message}");
    for source in [
        "foo(1)",
        "vars.name.length()",
        "Math.max(1, 2)",
        "vars.list[0]()",
    ] {
        assert!(
            matches!(error(source), ExprError::Unsupported(_)),
            "{source}"
        );
    }
}

#[test]
fn unary_operators() {
    check(&[
        ("!true", json!(false)),
        ("!0", json!(true)),
        ("!''", json!(true)),
        ("!'0'", json!(false)),
        ("!!vars.list", json!(true)),
        ("!vars.nothing", json!(true)),
        ("!vars.none", json!(true)),
        ("-vars.n", json!(-5)),
        ("-'3'", json!(-3)),
        ("+'4'", json!(4)),
        ("+'x'", Value::Null),
        ("- -1", json!(1)),
        ("-true", json!(-1)),
        ("!!!1", json!(false)),
    ]);
}

#[test]
fn arithmetic() {
    check(&[
        ("7 * 6", json!(42)),
        ("7 / 2", json!(3.5)),
        ("7 % 3", json!(1)),
        ("-7 % 3", json!(-1)),
        ("5.5 % 2", json!(1.5)),
        ("10 - 4", json!(6)),
        ("'6' * '7'", json!(42)),
        ("'10' - 1", json!(9)),
        ("'a' * 2", Value::Null),
        ("1 / 0", Value::Null),
        ("0 / 0", Value::Null),
        ("5 % 0", Value::Null),
        ("1 / 0 > 1e308", json!(true)),
        ("-1 / 0 < -1e308", json!(true)),
        ("null + 1", json!(1)),
        ("true + 1", json!(2)),
        ("vars.n + 1", json!(6)),
        ("vars.half * 2", json!(3)),
        ("0.1 + 0.2", json!(0.30000000000000004)),
    ]);
}

#[test]
fn concatenation_formats_numbers_like_javascript() {
    check(&[
        ("'a' + 1", json!("a1")),
        ("1 + 'a'", json!("1a")),
        ("1 + 2 + 'x'", json!("3x")),
        ("'x' + 1 + 2", json!("x12")),
        ("'n=' + 1.5", json!("n=1.5")),
        ("'v' + 2.0", json!("v2")),
        ("'v' + -0", json!("v0")),
        ("'' + 1e21", json!("1e+21")),
        ("'' + 1 / 3", json!("0.3333333333333333")),
        ("'' + 0 / 0", json!("NaN")),
        ("'' + 1 / 0", json!("Infinity")),
        ("'x' + true", json!("xtrue")),
        ("'x' + null", json!("xnull")),
        ("'' + vars.list", json!("1,2,3")),
        ("'' + vars.obj", json!("[object Object]")),
        ("vars.list + 1", json!("1,2,31")),
        ("vars.digit + 1", json!("11")),
        (
            "call.from + ' calls ' + call.to",
            json!("+15551230000 calls /public/ivr"),
        ),
    ]);
}

#[test]
fn comparisons() {
    check(&[
        ("2 < 10", json!(true)),
        ("'2' < '10'", json!(false)),
        ("'2' < 10", json!(true)),
        ("'abc' < 'abd'", json!(true)),
        ("'a' < 'B'", json!(false)),
        ("'B' < 'a'", json!(true)),
        ("'' < 'a'", json!(true)),
        (r"'\uff61' < '\u{1F600}'", json!(false)),
        (r"'\u{1F600}' < '\uff61'", json!(true)),
        ("null < 1", json!(true)),
        ("'x' < 1", json!(false)),
        ("'x' >= 1", json!(false)),
        ("0 / 0 <= 0 / 0", json!(false)),
        ("1 <= 1", json!(true)),
        ("1 >= 1", json!(true)),
        ("2 >= 3", json!(false)),
        ("3 > 2", json!(true)),
        ("vars.n > 4", json!(true)),
        ("vars.digit >= 1", json!(true)),
        ("true > false", json!(true)),
    ]);
}

#[test]
fn loose_and_strict_equality_table() {
    // (left, right, ==, ===)
    let table = [
        ("'1'", "1", true, false),
        ("0", "''", true, false),
        ("0", "'0'", true, false),
        ("''", "'0'", false, false),
        ("' 1 '", "1", true, false),
        ("null", "0", false, false),
        ("null", "false", false, false),
        ("null", "''", false, false),
        ("null", "null", true, true),
        // `undefined` is `null` here, so unlike JavaScript they are strictly equal too.
        ("null", "undefined", true, true),
        ("true", "1", true, false),
        ("true", "'1'", true, false),
        ("true", "2", false, false),
        ("false", "''", true, false),
        ("false", "'false'", false, false),
        ("false", "0", true, false),
        ("'a'", "'a'", true, true),
        ("'a'", "'A'", false, false),
        ("1", "1.0", true, true),
        ("0 / 0", "0 / 0", false, false),
        ("vars.n", "'5'", true, false),
        ("vars.digit", "1", true, false),
        ("vars.digit", "'1'", true, true),
        ("vars.list", "'1,2,3'", true, false),
        ("vars.list", "vars.list", true, true),
        ("vars.list", "params.list", false, false),
        ("vars.obj", "'[object Object]'", true, false),
        ("vars.obj", "vars.obj", true, true),
        ("vars.none", "null", true, true),
        ("vars.none", "''", false, false),
    ];
    for (left, right, loose, strict) in table {
        for (a, b) in [(left, right), (right, left)] {
            assert_eq!(eval(&format!("{a} == {b}")), json!(loose), "{a} == {b}");
            assert_eq!(eval(&format!("{a} != {b}")), json!(!loose), "{a} != {b}");
            assert_eq!(eval(&format!("{a} === {b}")), json!(strict), "{a} === {b}");
            assert_eq!(eval(&format!("{a} !== {b}")), json!(!strict), "{a} !== {b}");
        }
    }
}

#[test]
fn logical_operators_return_operands_and_short_circuit() {
    check(&[
        ("'a' && 'b'", json!("b")),
        ("'' && 'b'", json!("")),
        ("'' || 'd'", json!("d")),
        ("0 || null", Value::Null),
        ("vars.none || 'default'", json!("default")),
        ("vars.n || 'default'", json!(5)),
        ("vars.zero && vars.none.toLowerCase()", json!(0)),
        ("vars.flag || vars.none.toLowerCase()", json!(true)),
    ]);
}

#[test]
fn precedence() {
    check(&[
        ("1 + 2 * 3", json!(7)),
        ("(1 + 2) * 3", json!(9)),
        ("10 - 2 - 3", json!(5)),
        ("12 / 2 / 3", json!(2)),
        ("2 * 3 % 4", json!(2)),
        ("-2 * 3", json!(-6)),
        ("1 + -2", json!(-1)),
        ("1 + 2 < 4", json!(true)),
        ("1 < 2 == true", json!(true)),
        ("3 > 2 > 1", json!(false)),
        ("!1 == 0", json!(true)),
        ("!vars.flag && vars.n || 'c'", json!("c")),
        ("!vars.zero && vars.n || 'c'", json!(5)),
        ("1 || 2 && 0", json!(1)),
        ("0 || 2 && 0", json!(0)),
        ("vars.n > 3 && vars.n < 10", json!(true)),
        ("vars.digit == '1' || vars.digit == '2'", json!(true)),
    ]);
}

#[test]
fn conditionals_nest_to_the_right() {
    check(&[
        ("true ? 1 : 2", json!(1)),
        ("vars.n > 3 ? 'big' : 'small'", json!("big")),
        ("vars.n < 3 ? 'a' : vars.n < 6 ? 'b' : 'c'", json!("b")),
        ("vars.n < 3 ? 'a' : vars.n < 5 ? 'b' : 'c'", json!("c")),
        ("true ? false ? 1 : 2 : 3", json!(2)),
        ("vars.none ? 1 : 2", json!(2)),
        ("0 || 1 ? 'y' : 'n'", json!("y")),
        ("1 ? 2 : 3 + 10", json!(2)),
        ("(1 ? 2 : 3) + 10", json!(12)),
        ("1?.5:2", json!(0.5)),
        (
            "vars.n > 3 ? vars.name : vars.none.toLowerCase()",
            json!("Alice"),
        ),
    ]);
}

#[test]
fn syntax_errors_name_the_position() {
    for (source, position, message) in [
        ("1 +", 3, "unexpected end of input"),
        ("(1 + 2", 6, "expected `)`, found end of input"),
        ("1 2", 2, "unexpected number"),
        ("vars.", 5, "unexpected end of input"),
        ("a.0", 1, "unexpected number"),
        ("1 ? 2", 5, "expected `:`, found end of input"),
        ("'abc", 0, "unterminated string"),
        ("x @ y", 2, "unexpected character `@`"),
        ("* 2", 0, "unexpected `*`"),
        ("a[1", 3, "expected `]`, found end of input"),
        ("a.trim(1 2)", 9, "expected `,` or `)`, found number"),
        ("", 0, "unexpected end of input"),
    ] {
        assert_eq!(
            error(source),
            ExprError::Syntax {
                position,
                message: message.into()
            },
            "{source}"
        );
    }
    assert_eq!(
        error("1 +").to_string(),
        "syntax error at 3: unexpected end of input"
    );
}

#[test]
fn left_out_features_are_unsupported() {
    for source in [
        "a = 1",
        "typeof a",
        "a in b",
        "a instanceof b",
        "new Date()",
        "[1, 2]",
        "x => 1",
        "x.map(f)",
        "`x${a}`",
        "a ?? b",
        "a?.b",
        "function() {}",
        "this.x",
        "a; b",
        "2 ** 3",
    ] {
        let err = error(source);
        assert!(matches!(err, ExprError::Unsupported(_)), "{source}: {err}");
    }
    assert_eq!(
        error("a = 1").to_string(),
        "unsupported expression: `=` at 2 (assignment)"
    );
}

#[test]
fn nesting_is_capped() {
    let parens = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(eval(&parens(MAX_DEPTH)), json!(1));
    assert_eq!(error(&parens(MAX_DEPTH + 1)), ExprError::TooDeep);
    assert_eq!(error(&parens(2000)), ExprError::TooDeep);
    assert_eq!(error(&format!("{}1", "!".repeat(4000))), ExprError::TooDeep);
    assert_eq!(
        error(&format!("{}1", "- ".repeat(2000))),
        ExprError::TooDeep
    );
    let sum = |n: usize| vec!["1"; n].join("+");
    assert_eq!(eval(&sum(MAX_DEPTH)), json!(MAX_DEPTH));
    assert_eq!(error(&sum(MAX_DEPTH + 1)), ExprError::TooDeep);
    assert_eq!(error(&sum(2000)), ExprError::TooDeep);
    assert_eq!(
        error(&format!("{}0", "1 ? 1 : ".repeat(500))),
        ExprError::TooDeep
    );
    assert_eq!(
        error(&format!("vars{}", ".name.trim()".repeat(300))),
        ExprError::TooDeep
    );
    assert_eq!(
        error(&format!("a{}", "[a".repeat(1000))),
        ExprError::TooDeep
    );
}

#[test]
fn ten_thousand_parentheses_do_not_overflow_the_parser() {
    // Past the length limit, so this drives the parser directly.
    let source = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let tokens = lexer::tokenize(&source).unwrap();
    assert_eq!(parser::parse(&tokens), Err(ExprError::TooDeep));
    assert_eq!(error(&source), ExprError::TooLong { len: source.len() });
}

#[test]
fn source_length_is_capped() {
    let at_limit = format!("{}1", " ".repeat(MAX_SOURCE_LEN - 1));
    assert_eq!(eval(&at_limit), json!(1));
    let over = format!("{}1", " ".repeat(MAX_SOURCE_LEN));
    assert_eq!(
        error(&over),
        ExprError::TooLong {
            len: MAX_SOURCE_LEN + 1
        }
    );
    assert_eq!(
        error(&over).to_string(),
        "expression too long: 4097 bytes (the limit is 4096)"
    );
    assert_eq!(
        ExprError::TooDeep.to_string(),
        "expression nested too deeply (the limit is 64)"
    );
}

#[test]
fn truthy_follows_javascript() {
    for falsy in [json!(false), json!(0), json!(0.0), json!(""), Value::Null] {
        assert!(!truthy(&falsy), "{falsy}");
    }
    for truthful in [
        json!(true),
        json!(1),
        json!(-0.5),
        json!("0"),
        json!([]),
        json!({}),
    ] {
        assert!(truthy(&truthful), "{truthful}");
    }
}

/// A xorshift64 generator: deterministic, no dependency.
pub(crate) struct XorShift(pub u64);

impl XorShift {
    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A pseudo-random number below `bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// Pieces of expressions, so random input reaches past the lexer.
const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    "?",
    ":",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "===",
    "!==",
    "&&",
    "||",
    " ",
    "1",
    "0",
    "1.5",
    "1e400",
    "'a'",
    "\"b\"",
    "'",
    "\\",
    "true",
    "null",
    "vars",
    "vars.n",
    "vars.list",
    "vars.obj",
    "params.list",
    "call",
    "name",
    ".length",
    ".trim()",
    ".includes(",
    ".toLowerCase()",
    "[0]",
    "[-1]",
    "😀",
    "${",
    "%{",
    "}",
    "{",
    "typeof",
    "=",
];

/// Random text: raw bytes, a soup of expression fragments, or a well-formed expression.
pub(crate) fn random_text(rng: &mut XorShift) -> String {
    let len = rng.below(48);
    match rng.below(3) {
        0 => {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => (0..len)
            .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
            .collect(),
        _ => random_expression(rng, 4),
    }
}

const OPERANDS: &[&str] = &[
    "1",
    "0",
    "-2.5",
    "1e400",
    "'a'",
    "''",
    "'1'",
    "true",
    "false",
    "null",
    "vars.n",
    "vars.digit",
    "vars.list",
    "vars.obj",
    "vars.none",
    "params.list[0].name",
    "name",
    "call.from",
    "vars.list[vars.n]",
];

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "===", "!==", "&&", "||",
];

const SUFFIXES: &[&str] = &[
    ".length",
    ".trim()",
    ".toLowerCase()",
    ".includes('a')",
    ".startsWith(1)",
    "[0]",
    "",
];

/// A well-formed expression at most `depth` levels deep.
fn random_expression(rng: &mut XorShift, depth: usize) -> String {
    let operand = |rng: &mut XorShift| OPERANDS[rng.below(OPERANDS.len())].to_owned();
    if depth == 0 {
        return operand(rng);
    }
    match rng.below(6) {
        0 => operand(rng),
        1 => format!("!{}", random_expression(rng, depth - 1)),
        2 => format!(
            "({}){}",
            random_expression(rng, depth - 1),
            SUFFIXES[rng.below(SUFFIXES.len())]
        ),
        3 => format!(
            "{} ? {} : {}",
            random_expression(rng, depth - 1),
            random_expression(rng, depth - 1),
            random_expression(rng, depth - 1)
        ),
        _ => format!(
            "{} {} {}",
            random_expression(rng, depth - 1),
            OPERATORS[rng.below(OPERATORS.len())],
            random_expression(rng, depth - 1)
        ),
    }
}

#[test]
fn random_input_never_panics() {
    let scope = scope();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..5000 {
        let source = random_text(&mut rng);
        match evaluate(&source, &scope) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                failed += 1;
            }
        }
    }
    // The generator must reach both outcomes to be testing anything.
    assert!(ok > 1000, "{ok} evaluated");
    assert!(failed > 1000, "{failed} failed");
}

#[test]
fn an_empty_map_is_an_object() {
    let scope = Scope {
        vars: Map::new(),
        ..Scope::default()
    };
    assert_eq!(evaluate("vars", &scope).unwrap(), json!({}));
    assert_eq!(evaluate("!vars", &scope).unwrap(), json!(false));
}
