//! Finds `%{…}` and `${…}` placeholders in text. The closing brace is the first `}` outside
//! string literals (`'…'`, `"…"`, `` `…` ``, with backslash escapes) and outside nested braces,
//! so `%{x == '}' ? 1 : 2}` is one placeholder. Scanning is linear in the text's length.

/// The next placeholder in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A placeholder spanning `start..end`; `end` is past its `}`.
    Placeholder {
        /// Where its `%` or `$` is.
        start: usize,
        /// Just past its `}`.
        end: usize,
    },
    /// A `%{` or `${` at `start` that is never closed.
    Unterminated {
        /// Where its `%` or `$` is.
        start: usize,
    },
}

/// The first placeholder in `text`, if any: a `$` or `%` not followed by `{` is plain text.
pub(super) fn next(text: &str) -> Option<Found> {
    let bytes = text.as_bytes();
    let start = bytes
        .windows(2)
        .position(|pair| matches!(pair, [b'%' | b'$', b'{']))?;
    Some(match closing_brace(&bytes[start + 2..]) {
        Some(offset) => Found::Placeholder {
            start,
            end: start + 2 + offset + 1,
        },
        None => Found::Unterminated { start },
    })
}

/// The expression inside a placeholder found by [`next`].
pub(super) fn inner(placeholder: &str) -> &str {
    placeholder
        .get(2..placeholder.len().saturating_sub(1))
        .unwrap_or_default()
}

/// The offset of the `}` that closes an expression, skipping string literals and nested braces.
fn closing_brace(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholder(text: &str) -> Option<&str> {
        match next(text)? {
            Found::Placeholder { start, end } => Some(&text[start..end]),
            Found::Unterminated { .. } => None,
        }
    }

    #[test]
    fn finds_both_openers() {
        assert_eq!(placeholder("a %{x} b"), Some("%{x}"));
        assert_eq!(placeholder("a ${x} b"), Some("${x}"));
        assert_eq!(placeholder("100% $5 {x}"), None);
        assert_eq!(next("100% $5 {x}"), None);
        assert_eq!(placeholder("%%{x}"), Some("%{x}"));
        assert_eq!(placeholder("$"), None);
    }

    #[test]
    fn skips_braces_in_string_literals_and_nested_braces() {
        assert_eq!(
            placeholder("%{x == '}' ? 1 : 2} tail"),
            Some("%{x == '}' ? 1 : 2}")
        );
        assert_eq!(
            placeholder(r#"%{"}{" + '\'}'} tail"#),
            Some(r#"%{"}{" + '\'}'}"#)
        );
        assert_eq!(placeholder("%{ {a: 1} } tail"), Some("%{ {a: 1} }"));
        assert_eq!(placeholder("%{`}`} tail"), Some("%{`}`}"));
    }

    #[test]
    fn unterminated_placeholders_are_reported() {
        assert_eq!(next("ab %{x"), Some(Found::Unterminated { start: 3 }));
        assert_eq!(next("%{'}"), Some(Found::Unterminated { start: 0 }));
        assert_eq!(next("${ {x}"), Some(Found::Unterminated { start: 0 }));
    }

    #[test]
    fn inner_strips_the_delimiters() {
        assert_eq!(inner("%{x + 1}"), "x + 1");
        assert_eq!(inner("${}"), "");
    }
}
