//! Splits an expression source into tokens, rejecting JavaScript syntax the language leaves out.

use super::ExprError;

/// One token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'s> {
    /// What the token is.
    pub kind: Kind<'s>,
    /// Its byte offset in the source.
    pub position: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind<'s> {
    /// A numeric literal.
    Number(f64),
    /// A string literal, escapes resolved.
    String(String),
    /// A name: a variable, a property, a method or a keyword.
    Name(&'s str),
    /// An operator or a punctuation mark.
    Punct(Punct),
    /// The end of the source.
    End,
}

/// Operators and punctuation marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Punct {
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    Dot,
    Comma,
    Question,
    Colon,
    Not,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    LooseEqual,
    LooseNotEqual,
    StrictEqual,
    StrictNotEqual,
    And,
    Or,
}

impl Kind<'_> {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            Kind::Number(_) => "number".into(),
            Kind::String(_) => "string".into(),
            Kind::Name(name) => format!("`{name}`"),
            Kind::Punct(punct) => {
                let spelling = OPERATORS.iter().find_map(|(op, lexeme)| {
                    matches!(lexeme, Lexeme::Op(p) if p == punct).then_some(*op)
                });
                format!("`{}`", spelling.unwrap_or_default())
            }
            Kind::End => "end of input".into(),
        }
    }
}

/// What a run of operator characters means.
#[derive(Debug, Clone, Copy)]
enum Lexeme {
    /// A supported operator.
    Op(Punct),
    /// JavaScript syntax that is left out, and what it is.
    Unsupported(&'static str),
}

/// Operator spellings, longest first, so that `===` is not read as `==` `=`.
const OPERATORS: &[(&str, Lexeme)] = &[
    ("===", Lexeme::Op(Punct::StrictEqual)),
    ("!==", Lexeme::Op(Punct::StrictNotEqual)),
    (">>>", Lexeme::Unsupported("shift operators")),
    ("==", Lexeme::Op(Punct::LooseEqual)),
    ("!=", Lexeme::Op(Punct::LooseNotEqual)),
    ("<=", Lexeme::Op(Punct::LessEqual)),
    (">=", Lexeme::Op(Punct::GreaterEqual)),
    ("&&", Lexeme::Op(Punct::And)),
    ("||", Lexeme::Op(Punct::Or)),
    ("**", Lexeme::Unsupported("the exponent operator")),
    ("++", Lexeme::Unsupported("increment operators")),
    ("--", Lexeme::Unsupported("decrement operators")),
    ("=>", Lexeme::Unsupported("arrow functions")),
    ("??", Lexeme::Unsupported("the ?? operator")),
    ("?.", Lexeme::Unsupported("optional chaining")),
    ("<<", Lexeme::Unsupported("shift operators")),
    (">>", Lexeme::Unsupported("shift operators")),
    ("//", Lexeme::Unsupported("comments")),
    ("/*", Lexeme::Unsupported("comments")),
    ("(", Lexeme::Op(Punct::OpenParen)),
    (")", Lexeme::Op(Punct::CloseParen)),
    ("[", Lexeme::Op(Punct::OpenBracket)),
    ("]", Lexeme::Op(Punct::CloseBracket)),
    (".", Lexeme::Op(Punct::Dot)),
    (",", Lexeme::Op(Punct::Comma)),
    ("?", Lexeme::Op(Punct::Question)),
    (":", Lexeme::Op(Punct::Colon)),
    ("!", Lexeme::Op(Punct::Not)),
    ("+", Lexeme::Op(Punct::Plus)),
    ("-", Lexeme::Op(Punct::Minus)),
    ("*", Lexeme::Op(Punct::Star)),
    ("/", Lexeme::Op(Punct::Slash)),
    ("%", Lexeme::Op(Punct::Percent)),
    ("<", Lexeme::Op(Punct::Less)),
    (">", Lexeme::Op(Punct::Greater)),
    ("=", Lexeme::Unsupported("assignment")),
    ("&", Lexeme::Unsupported("bitwise operators")),
    ("|", Lexeme::Unsupported("bitwise operators")),
    ("^", Lexeme::Unsupported("bitwise operators")),
    ("~", Lexeme::Unsupported("bitwise operators")),
    ("{", Lexeme::Unsupported("object literals and blocks")),
    ("}", Lexeme::Unsupported("object literals and blocks")),
    (";", Lexeme::Unsupported("statements")),
    ("`", Lexeme::Unsupported("template literals")),
];

/// The tokens of `source`, ending with [`Kind::End`].
pub(super) fn tokenize(source: &str) -> Result<Vec<Token<'_>>, ExprError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = source[pos..].chars().next() {
        if c.is_whitespace() || c == '\u{feff}' {
            pos += c.len_utf8();
            continue;
        }
        let rest = &source[pos..];
        let (kind, len) = if c.is_ascii_digit() || (c == '.' && starts_with_digit(&rest[1..])) {
            number(rest, pos)?
        } else if c == '\'' || c == '"' {
            string(rest, pos)?
        } else if is_name_start(c) {
            let len = rest.find(|c: char| !is_name_part(c)).unwrap_or(rest.len());
            (Kind::Name(&rest[..len]), len)
        } else {
            punct(rest, pos)?
        };
        tokens.push(Token {
            kind,
            position: pos,
        });
        pos += len;
    }
    tokens.push(Token {
        kind: Kind::End,
        position: source.len(),
    });
    Ok(tokens)
}

/// Whether a name may start with `c`.
fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

/// Whether a name may go on with `c`.
fn is_name_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn starts_with_digit(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
}

fn syntax(position: usize, message: impl Into<String>) -> ExprError {
    ExprError::Syntax {
        position,
        message: message.into(),
    }
}

/// A decimal literal: digits, an optional fraction and an optional exponent.
fn number(text: &str, position: usize) -> Result<(Kind<'static>, usize), ExprError> {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut end = digits_from(0);
    if end > 1 && bytes[0] == b'0' {
        return Err(syntax(position, "numbers may not start with 0"));
    }
    if bytes.get(end) == Some(&b'.') {
        end = digits_from(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        let after = digits_from(exp);
        if after == exp {
            return Err(syntax(position, "an exponent needs digits"));
        }
        end = after;
    }
    if text[end..].starts_with(is_name_part) {
        return Err(syntax(
            position + end,
            "unexpected character after a number",
        ));
    }
    let value = text[..end]
        .parse::<f64>()
        .map_err(|_| syntax(position, "malformed number"))?;
    Ok((Kind::Number(value), end))
}

/// A quoted literal with JavaScript escapes; `text` starts with the quote.
fn string(text: &str, position: usize) -> Result<(Kind<'static>, usize), ExprError> {
    let quote = text.as_bytes()[0] as char;
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            _ if c == quote => return Ok((Kind::String(out), i + 1)),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
                return Err(syntax(position + i, "line break in a string"));
            }
            '\\' => {
                let Some((j, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '0' if !starts_with_digit(&text[j + 1..]) => out.push('\0'),
                    '1'..='9' | '0' => {
                        return Err(syntax(position + i, "octal escapes are not allowed"));
                    }
                    'x' => {
                        let code = hex(&text[j + 1..], 2)
                            .ok_or_else(|| syntax(position + i, "malformed \\x escape"))?;
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                        chars.nth(1);
                    }
                    'u' => {
                        let (units, len) = unicode_escapes(&text[i..])
                            .ok_or_else(|| syntax(position + i, "malformed \\u escape"))?;
                        out.extend(
                            char::decode_utf16(units)
                                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
                        );
                        // `len` covers the whole escape; the backslash and the `u` are consumed.
                        for _ in 0..len - 2 {
                            chars.next();
                        }
                    }
                    '\r' => {
                        if text[j + 1..].starts_with('\n') {
                            chars.next();
                        }
                    }
                    '\n' | '\u{2028}' | '\u{2029}' => {}
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    Err(syntax(position, "unterminated string"))
}

/// The value of the first `count` hex digits of `text`.
fn hex(text: &str, count: usize) -> Option<u32> {
    let digits = text.get(..count)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// One `\uXXXX` or `\u{X…}` escape at the start of `text`, followed by a second `\uXXXX` when
/// the two form a surrogate pair: the UTF-16 units and the length of the text consumed.
fn unicode_escapes(text: &str) -> Option<(Vec<u16>, usize)> {
    let (first, len) = unicode_escape(text)?;
    let mut units = Vec::with_capacity(2);
    match first {
        0xD800..=0xDBFF => {
            units.push(first as u16);
            if let Some((second @ 0xDC00..=0xDFFF, more)) = unicode_escape(&text[len..]) {
                units.push(second as u16);
                return Some((units, len + more));
            }
        }
        code => {
            let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
            units.extend(c.encode_utf16(&mut [0; 2]).iter());
        }
    }
    Some((units, len))
}

/// One `\uXXXX` or `\u{X…}` escape at the start of `text`: the code and the length consumed.
fn unicode_escape(text: &str) -> Option<(u32, usize)> {
    let rest = text.strip_prefix("\\u")?;
    if let Some(braced) = rest.strip_prefix('{') {
        let end = braced.find('}')?;
        let digits = &braced[..end];
        if digits.is_empty() || digits.len() > 6 {
            return None;
        }
        let code = hex(digits, digits.len()).filter(|&c| c <= 0x10FFFF)?;
        return Some((code, 2 + 1 + end + 1));
    }
    Some((hex(rest, 4)?, 6))
}

/// An operator, or an error for any other character.
fn punct(text: &str, position: usize) -> Result<(Kind<'static>, usize), ExprError> {
    // `a?.5:1` is a conditional, not optional chaining.
    let conditional = |op: &str| op == "?." && starts_with_digit(&text[2..]);
    let found = OPERATORS
        .iter()
        .find(|(op, _)| text.starts_with(op) && !conditional(op));
    match found {
        Some((op, Lexeme::Op(punct))) => Ok((Kind::Punct(*punct), op.len())),
        Some((op, Lexeme::Unsupported(what))) => Err(ExprError::Unsupported(format!(
            "`{op}` at {position} ({what})"
        ))),
        None => {
            let c = text.chars().next().unwrap_or_default();
            Err(syntax(position, format!("unexpected character `{c}`")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Kind<'_>> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn numbers_in_their_forms() {
        assert_eq!(
            kinds("12 1.5 .5 1. 1e3 2E-2 0"),
            vec![
                Kind::Number(12.0),
                Kind::Number(1.5),
                Kind::Number(0.5),
                Kind::Number(1.0),
                Kind::Number(1000.0),
                Kind::Number(0.02),
                Kind::Number(0.0),
                Kind::End
            ]
        );
    }

    #[test]
    fn bad_numbers_are_syntax_errors_with_their_position() {
        for (source, position) in [("1 + 012", 4), ("x + 1e", 4), ("12abc", 2), ("1.5e3x", 5)] {
            match tokenize(source) {
                Err(ExprError::Syntax { position: p, .. }) => assert_eq!(p, position, "{source}"),
                other => panic!("{source}: {other:?}"),
            }
        }
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            kinds(r#"'a\'b' "c\"d\\" '\n\t\x41\u0042\u{43}' '\uD83D\uDE00' '\q'"#),
            vec![
                Kind::String("a'b".into()),
                Kind::String("c\"d\\".into()),
                Kind::String("\n\tABC".into()),
                Kind::String("😀".into()),
                Kind::String("q".into()),
                Kind::End
            ]
        );
        assert_eq!(
            kinds(r"'\uD83D'"),
            vec![Kind::String("\u{fffd}".into()), Kind::End]
        );
    }

    #[test]
    fn malformed_strings_are_syntax_errors() {
        for source in [
            "'abc",
            "'a\nb'",
            r"'\u12'",
            r"'\x4'",
            r"'\u{110000}'",
            r"'\1'",
            "'\\",
        ] {
            assert!(
                matches!(tokenize(source), Err(ExprError::Syntax { .. })),
                "{source}"
            );
        }
    }

    #[test]
    fn operators_take_the_longest_match() {
        assert_eq!(
            kinds("a===b!==c==d!=e<=f>=g&&h||!i"),
            vec![
                Kind::Name("a"),
                Kind::Punct(Punct::StrictEqual),
                Kind::Name("b"),
                Kind::Punct(Punct::StrictNotEqual),
                Kind::Name("c"),
                Kind::Punct(Punct::LooseEqual),
                Kind::Name("d"),
                Kind::Punct(Punct::LooseNotEqual),
                Kind::Name("e"),
                Kind::Punct(Punct::LessEqual),
                Kind::Name("f"),
                Kind::Punct(Punct::GreaterEqual),
                Kind::Name("g"),
                Kind::Punct(Punct::And),
                Kind::Name("h"),
                Kind::Punct(Punct::Or),
                Kind::Punct(Punct::Not),
                Kind::Name("i"),
                Kind::End
            ]
        );
    }

    #[test]
    fn left_out_syntax_is_unsupported() {
        for source in [
            "a = 1", "a => a", "a ?? b", "a?.b", "a & b", "a | b", "a ** 2", "a++", "--a", "{}",
            "a; b", "`x`", "a << 1", "a // c", "~a",
        ] {
            assert!(
                matches!(tokenize(source), Err(ExprError::Unsupported(_))),
                "{source}"
            );
        }
        assert_eq!(
            kinds("a?.5:1"),
            vec![
                Kind::Name("a"),
                Kind::Punct(Punct::Question),
                Kind::Number(0.5),
                Kind::Punct(Punct::Colon),
                Kind::Number(1.0),
                Kind::End
            ]
        );
    }

    #[test]
    fn unknown_characters_are_syntax_errors() {
        assert_eq!(
            tokenize("a # b"),
            Err(ExprError::Syntax {
                position: 2,
                message: "unexpected character `#`".into()
            })
        );
        assert!(matches!(
            tokenize("é"),
            Err(ExprError::Syntax { position: 0, .. })
        ));
    }
}
