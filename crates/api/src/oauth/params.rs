//! Form and query parameters as OAuth reads them: every parameter at most once, bounded in size,
//! and the percent-encoding used to build redirect URIs.

use std::collections::HashMap;

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 40;
/// The longest parameter value accepted.
pub const MAX_VALUE: usize = 4096;

/// Parameters by name, each given at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

/// Why a parameter list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// A parameter appeared more than once (RFC 6749 §3.1 forbids it).
    Repeated(String),
    /// Too many parameters, or a value too long.
    TooLarge,
    /// A name or value holds a NUL character.
    Nul,
}

impl ParamsError {
    /// A sentence for `error_description`.
    pub fn describe(&self) -> String {
        match self {
            ParamsError::Repeated(name) => format!("the parameter {name} was given more than once"),
            ParamsError::TooLarge => "the request has too many or too long parameters".into(),
            ParamsError::Nul => "parameters must not contain NUL characters".into(),
        }
    }
}

impl Params {
    /// Collects decoded pairs, refusing repeats and oversized input. Empty values count as absent.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ParamsError> {
        if pairs.len() > MAX_PARAMS {
            return Err(ParamsError::TooLarge);
        }
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if value.len() > MAX_VALUE || name.len() > 64 {
                return Err(ParamsError::TooLarge);
            }
            if value.contains('\0') || name.contains('\0') {
                return Err(ParamsError::Nul);
            }
            if value.is_empty() {
                continue;
            }
            if map.contains_key(&name) {
                return Err(ParamsError::Repeated(name));
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }

    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(encoded: &str) -> Result<Self, ParamsError> {
        let mut pairs = Vec::new();
        for piece in encoded.split('&').filter(|p| !p.is_empty()) {
            if pairs.len() >= MAX_PARAMS {
                return Err(ParamsError::TooLarge);
            }
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            pairs.push((decode(name), decode(value)));
        }
        Self::from_pairs(pairs)
    }

    /// A parameter's value, if given and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Decodes one form-encoded component (`+` is a space); invalid escapes stay as they are.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with `pairs` appended to its query (keeping any query it already has).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut separator = if uri.contains('?') { '&' } else { '?' };
    if uri.ends_with('?') || uri.ends_with('&') {
        separator = '\0';
    }
    for (name, value) in pairs {
        if separator != '\0' {
            out.push(separator);
        }
        separator = '&';
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_repeats() {
        let p = Params::parse("a=1&b=x+y%2Fz&c=&d").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y/z"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
        assert_eq!(
            Params::parse("a=1&a=2"),
            Err(ParamsError::Repeated("a".into()))
        );
        assert_eq!(
            Params::parse(&format!("a={}", "x".repeat(MAX_VALUE + 1))),
            Err(ParamsError::TooLarge)
        );
        assert_eq!(
            Params::parse(&"a=1&".repeat(MAX_PARAMS + 1)),
            Err(ParamsError::TooLarge)
        );
        assert_eq!(Params::parse("state=a%00b"), Err(ParamsError::Nul));
        assert_eq!(Params::parse("st%00=1"), Err(ParamsError::Nul));
    }

    #[test]
    fn decodes_bad_escapes_verbatim() {
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%41%"), "A%");
        assert_eq!(decode("%e2%9c%93"), "✓");
    }

    #[test]
    fn builds_redirects() {
        assert_eq!(
            with_query("http://a/cb", &[("code", "x y"), ("state", "s;u=1")]),
            "http://a/cb?code=x%20y&state=s%3Bu%3D1"
        );
        assert_eq!(
            with_query("http://a/cb?k=v", &[("code", "1")]),
            "http://a/cb?k=v&code=1"
        );
        assert_eq!(
            with_query("http://a/cb?", &[("code", "1")]),
            "http://a/cb?code=1"
        );
    }
}
