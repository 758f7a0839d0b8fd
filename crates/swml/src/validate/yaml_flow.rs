//! A bound on YAML flow collections (`[…]`, `{…}`), checked before the YAML parser runs. The
//! libyaml scanner inside serde_yaml_ng takes time quadratic in how deeply flow collections
//! nest, before any recursion limit applies: 32 Ki of `[` (64 KiB of text) take seconds.
//! Nesting cannot exceed the number of `[` and `{` in the text, so capping that number caps the
//! parser's work (4096 levels parse in well under 100 ms); block-style YAML is not affected.

use super::Invalid;

/// How many `[`/`{` that may open a flow collection YAML text may have. `[]`, `{}` and
/// substitutions such as `%{call.from}` do not count.
pub const MAX_YAML_FLOW_COLLECTIONS: usize = 4096;

/// Fails when `text` has more than [`MAX_YAML_FLOW_COLLECTIONS`] possible flow-collection
/// openers. Every `[` and `{` counts except `[]`, `{}`, and the `{` of a `%{…}`/`${…}` closed on
/// the same line with no quote, bracket, brace or `#` inside: such a pair is either text (both
/// braces inside one scalar or comment) or an empty-ish collection that closes at once, so the
/// count stays an upper bound on the nesting whatever the quoting. Linear in the text's length.
pub(crate) fn check(text: &str) -> Result<(), Invalid> {
    let bytes = text.as_bytes();
    let mut openers = 0;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte != b'[' && byte != b'{' {
            i += 1;
            continue;
        }
        let closer = if byte == b'[' { b']' } else { b'}' };
        if bytes.get(i + 1) == Some(&closer) {
            i += 2;
            continue;
        }
        if let Some(end) = substitution_end(bytes, i) {
            i = end + 1;
            continue;
        }
        openers += 1;
        if openers > MAX_YAML_FLOW_COLLECTIONS {
            return Err(Invalid {
                path: String::new(),
                message: format!(
                    "YAML text with more than {MAX_YAML_FLOW_COLLECTIONS} inline [ ] or {{ }} collections; write it in block style or as JSON"
                ),
            });
        }
        i += 1;
    }
    Ok(())
}

/// When the `{` at `open` starts a `%{…}`/`${…}` closed on the same line with no quote,
/// bracket, brace or `#` inside: the index of its `}`.
fn substitution_end(bytes: &[u8], open: usize) -> Option<usize> {
    let sigil = open.checked_sub(1).and_then(|before| bytes.get(before))?;
    if bytes[open] != b'{' || (*sigil != b'%' && *sigil != b'$') {
        return None;
    }
    let stop = bytes[open + 1..].iter().position(|b| {
        matches!(
            b,
            b'}' | b'{' | b'[' | b']' | b'"' | b'\'' | b'#' | b'\n' | b'\r'
        )
    })?;
    let end = open + 1 + stop;
    (bytes[end] == b'}').then_some(end)
}

#[cfg(test)]
mod tests {
    use super::{MAX_YAML_FLOW_COLLECTIONS, check};

    #[test]
    fn counts_possible_openers_only() {
        let many_empty = "- answer: {}\n- x: []\n".repeat(MAX_YAML_FLOW_COLLECTIONS);
        assert!(check(&many_empty).is_ok());
        let many_vars = "- say:%{call.from} ${vars.a}\n".repeat(MAX_YAML_FLOW_COLLECTIONS);
        assert!(check(&many_vars).is_ok());
        let at_limit = "{a: 1}".repeat(MAX_YAML_FLOW_COLLECTIONS);
        assert!(check(&at_limit).is_ok());
        assert!(check(&format!("{at_limit}[")).is_err());
    }

    #[test]
    fn substitutions_that_could_hide_nesting_count() {
        let nested = "[${".repeat(MAX_YAML_FLOW_COLLECTIONS);
        assert!(check(&nested).is_err());
        let quoted = "[${'}'".repeat(MAX_YAML_FLOW_COLLECTIONS);
        assert!(check(&quoted).is_err());
        let unclosed = "%{a\n".repeat(MAX_YAML_FLOW_COLLECTIONS + 1);
        assert!(check(&unclosed).is_err());
    }
}
