//! Digest signing: the `response` a client that knows the password computes for parsed
//! credentials, so fuzzed messages that carry a nonce the core issued reach what lies past
//! authentication (a fuzzer cannot find an MD5 or SHA-256 preimage by itself).

use md5::Md5;
use sha2::{Digest, Sha256};
use weft_sip::digest::{Algorithm, Credentials, parse_credentials};

use crate::fixtures;

/// The credentials header value `value` with its `response` replaced by the correct one for
/// `method` and the fixture password, keeping every other parameter (nonce, realm, qop, …) as
/// sent. `None` when the value does not parse or names no known account.
pub fn sign(value: &str, method: &str) -> Option<String> {
    let credentials = parse_credentials(value).ok()?;
    let account = fixtures::accounts(&credentials.username)
        .into_iter()
        .next()?;
    let ha1 = account.ha1.get(credentials.algorithm)?.to_owned();
    let response = response(&credentials, method, &ha1);
    Some(header_value(&credentials, &response))
}

/// RFC 7616 §3.4.1: H(HA1:nonce:nc:cnonce:qop:HA2) with a qop, H(HA1:nonce:HA2) without
/// (whatever the qop says: the verifier decides whether it is acceptable).
fn response(c: &Credentials, method: &str, ha1: &str) -> String {
    let ha2 = hex_digest(c.algorithm, &[method, &c.uri]);
    match &c.qop {
        Some(qop) => {
            let nc = c.nc.as_deref().unwrap_or_default();
            let cnonce = c.cnonce.as_deref().unwrap_or_default();
            hex_digest(c.algorithm, &[ha1, &c.nonce, nc, cnonce, qop, &ha2])
        }
        None => hex_digest(c.algorithm, &[ha1, &c.nonce, &ha2]),
    }
}

/// Lowercase hex of H(parts joined by ":").
fn hex_digest(algorithm: Algorithm, parts: &[&str]) -> String {
    let joined = parts.join(":");
    match algorithm {
        Algorithm::Md5 => hex::encode(Md5::digest(joined.as_bytes())),
        Algorithm::Sha256 => hex::encode(Sha256::digest(joined.as_bytes())),
    }
}

/// A `Digest` credentials value with every parameter of `c` quoted and `response` set.
fn header_value(c: &Credentials, response: &str) -> String {
    let mut params = vec![
        ("username", c.username.as_str()),
        ("realm", &c.realm),
        ("nonce", &c.nonce),
        ("uri", &c.uri),
        ("response", response),
        ("algorithm", c.algorithm.name()),
    ];
    for (name, value) in [
        ("qop", &c.qop),
        ("nc", &c.nc),
        ("cnonce", &c.cnonce),
        ("opaque", &c.opaque),
    ] {
        if let Some(value) = value {
            params.push((name, value));
        }
    }
    let params: Vec<String> = params
        .into_iter()
        .map(|(name, value)| format!("{name}={}", quoted(value)))
        .collect();
    format!("Digest {}", params.join(", "))
}

/// A quoted-string with `"` and `\` escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use weft_sip::core::CoreConfig;
    use weft_sip::digest::{Challenger, Verdict};

    use super::*;

    fn verdict(value: &str) -> Verdict {
        let cfg = CoreConfig::default();
        let challenger =
            Challenger::new(fixtures::REALM, cfg.secret).with_max_nonce_age(cfg.nonce_max_age);
        let credentials = parse_credentials(value).expect("signed credentials parse");
        let ha1 = &fixtures::accounts(&credentials.username)[0].ha1;
        challenger.verify(&credentials, "REGISTER", ha1, fixtures::NOW_UNIX)
    }

    fn seed(name: &str) -> String {
        let path = format!("{}/seeds/digest/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn signed_credentials_with_the_cores_nonces_verify() {
        let wrong = seed("md5_qop_fresh.txt").replace("response=\"", "response=\"0");
        assert_eq!(verdict(&wrong), Verdict::Invalid);
        assert_eq!(verdict(&sign(&wrong, "REGISTER").unwrap()), Verdict::Ok);
        assert_eq!(
            verdict(&sign(&seed("rfc2069.txt"), "REGISTER").unwrap()),
            Verdict::Ok
        );
        let stale = sign(&seed("sha256_qop_stale.txt"), "REGISTER").unwrap();
        assert_eq!(verdict(&stale), Verdict::Stale);
    }

    #[test]
    fn unknown_users_and_garbage_are_not_signed() {
        assert_eq!(sign(&seed("rfc2617_example.txt"), "REGISTER"), None);
        assert_eq!(sign("Basic YWxpY2U6c2VjcmV0", "REGISTER"), None);
    }
}
