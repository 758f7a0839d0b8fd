//! JSON paths such as `sections.main[2].play.url`, built on the stack while validating and
//! rendered only when there is an error.

use super::Invalid;

/// A position in the document: the root, or a key or index below a parent position.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The document itself.
    Root,
    /// An object member.
    Key(&'a Path<'a>, &'a str),
    /// An array element.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The member `key` of the value at this path.
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    /// The element `index` of the array at this path.
    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    /// An error at this path.
    pub(crate) fn invalid(&self, message: impl Into<String>) -> Invalid {
        Invalid {
            path: self.render(),
            message: message.into(),
        }
    }

    /// `sections.main[2].play.url`; keys that are not plain names are quoted
    /// (`case["+1 555"]`).
    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, _) | Path::Index(parent, _) => {
                    steps.push(at);
                    at = parent;
                }
            }
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            match step {
                Path::Root => {}
                Path::Index(_, index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
                Path::Key(_, key) if is_plain(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Path::Key(_, key) => {
                    out.push('[');
                    out.push_str(&serde_json::Value::from(*key).to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// A key written bare in a path: letters, digits, `_` and `-`.
fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::Path;

    #[test]
    fn renders_keys_and_indexes() {
        let root = Path::Root;
        let sections = root.key("sections");
        let sub = sections.key("sub");
        let first = sub.index(1);
        let cond = first.key("cond");
        let entry = cond.index(0);
        let then = entry.key("then");
        let third = then.index(3);
        let goto = third.key("goto");
        let label = goto.key("label");
        assert_eq!(
            label.invalid("x").path,
            "sections.sub[1].cond[0].then[3].goto.label"
        );
        assert_eq!(root.invalid("x").path, "");
    }

    #[test]
    fn quotes_keys_that_are_not_plain_names() {
        let root = Path::Root;
        let case = root.key("case");
        let odd = case.key("+1 \"555\"");
        assert_eq!(odd.invalid("x").path, r#"case["+1 \"555\""]"#);
        let first = root.index(0);
        assert_eq!(first.invalid("x").path, "[0]");
    }
}
