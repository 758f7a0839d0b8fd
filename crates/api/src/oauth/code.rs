//! Authorization codes: random, single-use, short-lived, stored only as a hash. The checks made
//! when a code is exchanged live here, free of I/O.

use weft_auth::secret::{constant_time_eq, hash_secret, new_secret};
use weft_store::oauth::{AuthCodeRow, NewAuthCode};

use super::pkce;
use super::request::AuthorizationRequest;

/// The longest lifetime of a code, in seconds.
pub const MAX_CODE_TTL_SECS: i64 = 60;

/// A fresh code: what goes to the client, and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    pub stored: NewAuthCode,
}

/// Clamps a configured code lifetime into 1–60 seconds.
pub fn code_ttl_secs(configured: i64) -> i64 {
    configured.clamp(1, MAX_CODE_TTL_SECS)
}

/// Mints a code for a subscriber who just logged in at `now_ms`.
pub fn issue(
    request: &AuthorizationRequest,
    project_id: &str,
    subscriber_id: &str,
    now_ms: i64,
    ttl_secs: i64,
) -> IssuedCode {
    let code = new_secret("AC");
    let stored = NewAuthCode {
        code_hash: hash_secret(&code),
        code: AuthCodeRow {
            client_id: request.client_id.clone(),
            project_id: project_id.to_owned(),
            subscriber_id: subscriber_id.to_owned(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            auth_time: now_ms / 1000,
            expires_at: now_ms + code_ttl_secs(ttl_secs) * 1000,
        },
    };
    IssuedCode { code, stored }
}

/// What the client presents with a code at the token endpoint.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
}

/// Checks a freshly redeemed code against the exchange; the error is an `invalid_grant`
/// description.
pub fn check_exchange(
    code: &AuthCodeRow,
    exchange: &Exchange<'_>,
    now_ms: i64,
) -> Result<(), &'static str> {
    if now_ms >= code.expires_at {
        return Err("the authorization code has expired");
    }
    if !constant_time_eq(code.client_id.as_bytes(), exchange.client_id.as_bytes()) {
        return Err("the authorization code was issued to another client");
    }
    if code.redirect_uri != exchange.redirect_uri {
        return Err("redirect_uri does not match the authorization request");
    }
    if !pkce::verify(exchange.code_verifier, &code.code_challenge) {
        return Err("code_verifier does not match the code_challenge");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "web".into(),
            redirect_uri: "http://localhost:3000".into(),
            scope: "openid".into(),
            state: Some("s".into()),
            nonce: Some("n".into()),
            code_challenge: pkce::challenge_of(VERIFIER),
            login_hint: None,
        }
    }

    fn exchange<'a>(verifier: &'a str) -> Exchange<'a> {
        Exchange {
            client_id: "web",
            redirect_uri: "http://localhost:3000",
            code_verifier: verifier,
        }
    }

    #[test]
    fn codes_are_random_hashed_and_short_lived() {
        let a = issue(&request(), "p", "s1", 1_000_000, 600);
        let b = issue(&request(), "p", "s1", 1_000_000, 600);
        assert_ne!(a.code, b.code);
        assert_eq!(a.stored.code_hash, hash_secret(&a.code));
        assert!(!a.stored.code_hash.contains(&a.code));
        assert_eq!(a.stored.code.expires_at, 1_000_000 + 60_000);
        assert_eq!(a.stored.code.auth_time, 1000);
        assert_eq!(code_ttl_secs(0), 1);
        assert_eq!(code_ttl_secs(30), 30);
    }

    #[test]
    fn exchange_checks_expiry_client_redirect_and_pkce() {
        let issued = issue(&request(), "p", "s1", 1_000_000, 60);
        let code = issued.stored.code.clone();
        assert_eq!(
            check_exchange(&code, &exchange(VERIFIER), 1_000_001),
            Ok(())
        );
        assert!(check_exchange(&code, &exchange(VERIFIER), 1_060_000).is_err());
        assert!(check_exchange(&code, &exchange(&"x".repeat(43)), 1_000_001).is_err());
        let mut other_client = exchange(VERIFIER);
        other_client.client_id = "evil";
        assert!(check_exchange(&code, &other_client, 1_000_001).is_err());
        let mut other_uri = exchange(VERIFIER);
        other_uri.redirect_uri = "http://localhost:3000/";
        assert!(check_exchange(&code, &other_uri, 1_000_001).is_err());
    }
}
