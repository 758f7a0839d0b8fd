//! Parsing `Authorization` / `Proxy-Authorization` Digest credentials.

use thiserror::Error;

use super::algorithm::Algorithm;

/// The longest header value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 4096;
/// The longest single parameter value accepted, in bytes (after unescaping).
const MAX_VALUE_LEN: usize = 1024;
/// The most parameters accepted in one header value.
const MAX_PARAMS: usize = 32;

/// The Digest credentials of a request (RFC 2617 §3.2.2, RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`: whose stored HA1 to verify against.
    pub username: String,
    /// `realm`
    pub realm: String,
    /// `nonce`, as issued by the challenge.
    pub nonce: String,
    /// `uri`: the Request-URI as the client saw it (the caller may compare it with the actual
    /// Request-URI; proxies can rewrite the latter).
    pub uri: String,
    /// `response`: the hex digest to check.
    pub response: String,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// `qop` as sent (`auth`), absent for RFC 2069 clients.
    pub qop: Option<String>,
    /// `nc`, the nonce count, as sent (8 hex digits).
    pub nc: Option<String>,
    /// `cnonce`
    pub cnonce: Option<String>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
}

/// Why a credentials header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// The header value, or one parameter value, is too long.
    #[error("Digest credentials too long")]
    TooLong,
    /// The scheme is not `Digest`.
    #[error("not Digest credentials")]
    NotDigest,
    /// The parameter list is not well formed.
    #[error("malformed Digest credentials: {0}")]
    Malformed(&'static str),
    /// A required parameter is missing.
    #[error("Digest credentials lack {0}")]
    MissingParameter(&'static str),
    /// The algorithm is not `MD5` or `SHA-256` (e.g. a `-sess` variant).
    #[error("unsupported Digest algorithm {0}")]
    UnsupportedAlgorithm(String),
}

/// Parses the value of an `Authorization` or `Proxy-Authorization` header. Parameter names
/// are case-insensitive, whitespace around `=` and `,` is tolerated, quoted strings are
/// unescaped, unknown parameters are ignored and known ones may appear once.
pub fn parse_credentials(value: &str) -> Result<Credentials, DigestError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(DigestError::TooLong);
    }
    let (scheme, params) = value
        .trim()
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or(DigestError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::NotDigest);
    }
    let mut fields = Fields::default();
    let mut params = Params::new(params);
    while let Some((name, value)) = params.next_param()? {
        fields.set(&name, value)?;
    }
    fields.into_credentials()
}

/// The known parameters seen so far.
#[derive(Default)]
struct Fields {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
    cnonce: Option<String>,
    opaque: Option<String>,
}

impl Fields {
    fn set(&mut self, name: &str, value: String) -> Result<(), DigestError> {
        let slot = match name.to_ascii_lowercase().as_str() {
            "username" => &mut self.username,
            "realm" => &mut self.realm,
            "nonce" => &mut self.nonce,
            "uri" => &mut self.uri,
            "response" => &mut self.response,
            "algorithm" => &mut self.algorithm,
            "qop" => &mut self.qop,
            "nc" => &mut self.nc,
            "cnonce" => &mut self.cnonce,
            "opaque" => &mut self.opaque,
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(DigestError::Malformed("duplicate parameter"));
        }
        *slot = Some(value);
        Ok(())
    }

    fn into_credentials(self) -> Result<Credentials, DigestError> {
        let algorithm = match self.algorithm {
            None => Algorithm::Md5,
            Some(name) => {
                Algorithm::from_name(&name).ok_or(DigestError::UnsupportedAlgorithm(name))?
            }
        };
        Ok(Credentials {
            username: self
                .username
                .ok_or(DigestError::MissingParameter("username"))?,
            realm: self.realm.ok_or(DigestError::MissingParameter("realm"))?,
            nonce: self.nonce.ok_or(DigestError::MissingParameter("nonce"))?,
            uri: self.uri.ok_or(DigestError::MissingParameter("uri"))?,
            response: self
                .response
                .ok_or(DigestError::MissingParameter("response"))?,
            algorithm,
            qop: self.qop,
            nc: self.nc,
            cnonce: self.cnonce,
            opaque: self.opaque,
        })
    }
}

/// A reader of the `name=value` pairs of an auth-param list.
struct Params<'a> {
    rest: &'a str,
    count: usize,
}

impl<'a> Params<'a> {
    fn new(list: &'a str) -> Self {
        Params {
            rest: list,
            count: 0,
        }
    }

    /// The next pair, `None` at the end of the list.
    fn next_param(&mut self) -> Result<Option<(String, String)>, DigestError> {
        let rest = self
            .rest
            .trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return Ok(None);
        }
        self.count += 1;
        if self.count > MAX_PARAMS {
            return Err(DigestError::Malformed("too many parameters"));
        }
        let name_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (name, rest) = rest.split_at(name_end);
        if name.is_empty() {
            return Err(DigestError::Malformed("empty parameter name"));
        }
        let rest = rest
            .trim_start()
            .strip_prefix('=')
            .ok_or(DigestError::Malformed("parameter without '='"))?
            .trim_start();
        let (value, rest) = match rest.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => {
                let end = rest
                    .find(|c: char| c == ',' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                let (token, rest) = rest.split_at(end);
                (token.to_owned(), rest)
            }
        };
        if value.len() > MAX_VALUE_LEN {
            return Err(DigestError::TooLong);
        }
        self.rest = rest;
        Ok(Some((name.to_owned(), value)))
    }
}

/// Reads a quoted string's content (after the opening quote), unescaping `\x`; returns the
/// value and the input after the closing quote.
fn unquote(input: &str) -> Result<(String, &str), DigestError> {
    let mut value = String::new();
    let mut chars = input.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &input[index + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            _ => value.push(c),
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(DigestError::TooLong);
        }
    }
    Err(DigestError::Malformed("unterminated quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc2617_example() {
        let credentials = parse_credentials(
            "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
             qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
             response=\"6629fae49393a05397450978507c4ef1\",\r\n \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(
            credentials,
            Credentials {
                username: "Mufasa".into(),
                realm: "testrealm@host.com".into(),
                nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
                uri: "/dir/index.html".into(),
                response: "6629fae49393a05397450978507c4ef1".into(),
                algorithm: Algorithm::Md5,
                qop: Some("auth".into()),
                nc: Some("00000001".into()),
                cnonce: Some("0a4f113b".into()),
                opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
            }
        );
    }

    #[test]
    fn tolerates_case_spacing_escapes_and_unknown_parameters() {
        let credentials = parse_credentials(
            "  digest USERNAME = \"al\\\"ice\" ,Realm=\"weft\",,NONCE=abc, uri=\"sip:bob@example.com;transport=tcp\",\
             Response=\"00\",ALGORITHM=sha-256,userhash=false,charset=UTF-8, qop=\"auth\"",
        )
        .unwrap();
        assert_eq!(credentials.username, "al\"ice");
        assert_eq!(credentials.realm, "weft");
        assert_eq!(credentials.nonce, "abc");
        assert_eq!(credentials.uri, "sip:bob@example.com;transport=tcp");
        assert_eq!(credentials.algorithm, Algorithm::Sha256);
        assert_eq!(credentials.qop.as_deref(), Some("auth"));
        assert_eq!(credentials.nc, None);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let required = "username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"";
        let cases = [
            ("", DigestError::NotDigest),
            ("Digest", DigestError::NotDigest),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", DigestError::NotDigest),
            (
                "Digest username",
                DigestError::Malformed("parameter without '='"),
            ),
            ("Digest =x", DigestError::Malformed("empty parameter name")),
            (
                "Digest username=\"abc",
                DigestError::Malformed("unterminated quoted string"),
            ),
            (
                "Digest username=\"abc\\",
                DigestError::Malformed("unterminated quoted string"),
            ),
            (
                "Digest realm=\"r\"",
                DigestError::MissingParameter("username"),
            ),
            (
                "Digest username=a, username=b",
                DigestError::Malformed("duplicate parameter"),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_credentials(header), Err(expected), "{header}");
        }
        assert_eq!(
            parse_credentials(&format!("Digest {required}, algorithm=MD5-sess")),
            Err(DigestError::UnsupportedAlgorithm("MD5-sess".into()))
        );
        assert_eq!(
            parse_credentials(&format!(
                "Digest {required}, cnonce=\"{}\"",
                "x".repeat(2000)
            )),
            Err(DigestError::TooLong)
        );
        assert_eq!(
            parse_credentials(&format!("Digest {required}, {}", "a=b, ".repeat(40))),
            Err(DigestError::Malformed("too many parameters"))
        );
        assert_eq!(
            parse_credentials(&format!("Digest {}", " ".repeat(MAX_HEADER_LEN))),
            Err(DigestError::TooLong)
        );
        assert!(parse_credentials(&format!("Digest {required}")).is_ok());
    }

    #[test]
    fn truncations_and_random_input_never_panic() {
        let header = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
                      nonce=\"dcd98b\", uri=\"/dir/index.html\", qop=auth, nc=00000001, \
                      cnonce=\"0a4f113b\", response=\"6629fae4\", opaque=\"5ccc\\\"é\"";
        let mut results = 0;
        for end in (0..=header.len()).filter(|i| header.is_char_boundary(*i)) {
            results += usize::from(parse_credentials(&header[..end]).is_ok());
            let _ = parse_credentials(&header[end..]);
        }
        assert!(results >= 1);
        let alphabet = b"Digest =,\"\\ abcnoeurs\x00\xff";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            let bytes: Vec<u8> = (0..(state % 200))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse_credentials(&String::from_utf8_lossy(&bytes));
        }
    }
}
