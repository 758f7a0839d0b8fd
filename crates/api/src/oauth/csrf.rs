//! CSRF protection for the login form: a per-attempt token that binds a browser cookie, the
//! authorization request and the time it was issued, under a per-process HMAC key.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use weft_auth::secret::random_bytes;

use super::request::AuthorizationRequest;

/// How long a login form stays usable, in seconds.
pub const FORM_TTL_SECS: i64 = 30 * 60;
/// The cookie that binds forms to one browser.
pub const COOKIE: &str = "weft_login";

/// The key forms are signed with (new on every start: restarting the server expires open forms).
pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl Default for CsrfKey {
    fn default() -> Self {
        CsrfKey(hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()))
    }
}

/// A new random value for the binding cookie.
pub fn new_binding() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Whether a cookie value looks like one we set.
pub fn is_binding(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn mac_input(binding: &str, issued_at: i64, request: &AuthorizationRequest) -> Vec<u8> {
    let mut input = format!("{binding}\n{issued_at}\n");
    for (name, value) in request.to_pairs() {
        input.push_str(name);
        input.push('=');
        input.push_str(&value.replace('\n', "\\n"));
        input.push('\n');
    }
    input.into_bytes()
}

impl CsrfKey {
    /// The token for a form shown at `now` (Unix seconds).
    pub fn token(&self, binding: &str, request: &AuthorizationRequest, now: i64) -> String {
        let tag = hmac::sign(&self.0, &mac_input(binding, now, request));
        let mut raw = now.to_be_bytes().to_vec();
        raw.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `token` was issued by this key for this cookie and request, and is still fresh.
    pub fn verify(
        &self,
        token: &str,
        binding: &str,
        request: &AuthorizationRequest,
        now: i64,
    ) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if raw.len() != 8 + 32 || !is_binding(binding) {
            return false;
        }
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&raw[..8]);
        let issued_at = i64::from_be_bytes(stamp);
        if issued_at > now + 60 || now - issued_at > FORM_TTL_SECS {
            return false;
        }
        hmac::verify(&self.0, &mac_input(binding, issued_at, request), &raw[8..]).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "web".into(),
            redirect_uri: "http://localhost:3000".into(),
            scope: "openid".into(),
            state: Some("s".into()),
            nonce: None,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            login_hint: None,
        }
    }

    #[test]
    fn tokens_bind_cookie_request_and_time() {
        let key = CsrfKey::default();
        let binding = new_binding();
        assert!(is_binding(&binding));
        let token = key.token(&binding, &request(), 1000);
        assert!(key.verify(&token, &binding, &request(), 1000 + 60));
        assert!(!key.verify(&token, &new_binding(), &request(), 1000));
        let mut other = request();
        other.state = Some("t".into());
        assert!(!key.verify(&token, &binding, &other, 1000));
        assert!(!key.verify(&token, &binding, &request(), 1000 + FORM_TTL_SECS + 1));
        assert!(!CsrfKey::default().verify(&token, &binding, &request(), 1000));
        assert!(!key.verify("garbage", &binding, &request(), 1000));
        assert!(!key.verify(&token, "short", &request(), 1000));
    }
}
