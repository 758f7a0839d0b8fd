//! The authorization request (RFC 6749 §4.1.1 with PKCE and OIDC parameters), checked without I/O.
//!
//! Problems with the client or its redirect URI are shown on an error page, never redirected
//! (§4.1.2.1); every other problem is redirected back to the client with `error` and `state`.

use super::clients::OAuthClient;
use super::params::{Params, ParamsError, with_query};
use super::pkce;

/// Scopes Weft understands; others are ignored.
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The longest `state` and `nonce` accepted.
pub const MAX_STATE: usize = 2048;

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The granted scopes (requested ones Weft understands; `openid` when none were given).
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// A `login_hint` to prefill the email field with.
    pub login_hint: Option<String>,
}

impl AuthorizationRequest {
    /// The parameters that reproduce this request (hidden fields of the login form).
    pub fn to_pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("code_challenge", self.code_challenge.as_str()),
            ("code_challenge_method", pkce::METHOD),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        if let Some(nonce) = &self.nonce {
            pairs.push(("nonce", nonce));
        }
        if let Some(hint) = &self.login_hint {
            pairs.push(("login_hint", hint));
        }
        pairs
    }

    /// The redirect carrying a code back to the client.
    pub fn success_redirect(&self, code: &str) -> String {
        let mut pairs = vec![("code", code)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        with_query(&self.redirect_uri, &pairs)
    }
}

/// Why an authorization request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationError {
    /// Unknown client, or a missing, invalid or unregistered redirect URI: shown as a page.
    Page { title: String, detail: String },
    /// Anything else: sent back to the client's redirect URI.
    Redirect(RedirectError),
}

/// An error redirect (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl RedirectError {
    /// The URI to redirect to.
    pub fn location(&self) -> String {
        let mut pairs = vec![
            ("error", self.error),
            ("error_description", self.description.as_str()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        with_query(&self.redirect_uri, &pairs)
    }
}

fn page(title: &str, detail: impl Into<String>) -> AuthorizationError {
    AuthorizationError::Page {
        title: title.into(),
        detail: detail.into(),
    }
}

/// Checks an authorization request against the client it names (`None`: no such client).
pub fn validate(
    params: Result<Params, ParamsError>,
    client: Option<&OAuthClient>,
) -> Result<AuthorizationRequest, AuthorizationError> {
    let params = match params {
        Ok(p) => p,
        Err(e) => return Err(page("This sign-in link is not valid", e.describe())),
    };
    let Some(client_id) = params.get("client_id") else {
        return Err(page(
            "This sign-in link is not valid",
            "The request does not name an application (client_id is missing).",
        ));
    };
    let Some(client) = client.filter(|c| c.client_id == client_id) else {
        return Err(page(
            "Unknown application",
            "The application that sent you here is not registered with this server.",
        ));
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(page(
            "This sign-in link is not valid",
            "The request does not say where to return to (redirect_uri is missing).",
        ));
    };
    if !client.allows_redirect(redirect_uri) {
        return Err(page(
            "This sign-in link is not valid",
            "The return address in the request is not registered for this application.",
        ));
    }
    let state = params.get("state").map(str::to_owned);
    let fail = |error: &'static str, description: &str| {
        AuthorizationError::Redirect(RedirectError {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description: description.to_owned(),
            state: state.clone(),
        })
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(fail("invalid_request", "state is too long"));
    }
    match params.get("response_type") {
        None => return Err(fail("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if params.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    let Some(code_challenge) = params.get("code_challenge") else {
        return Err(fail(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        ));
    };
    if params.get("code_challenge_method") != Some(pkce::METHOD) {
        return Err(fail(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !pkce::is_valid_challenge(code_challenge) {
        return Err(fail(
            "invalid_request",
            "code_challenge is not a valid S256 challenge",
        ));
    }
    let nonce = params.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_STATE) {
        return Err(fail("invalid_request", "nonce is too long"));
    }
    if params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    {
        return Err(fail("login_required", "the subscriber must log in"));
    }
    let requested = params.get("scope").unwrap_or("openid");
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if SUPPORTED_SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        granted.push("openid");
    }
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= 254)
        .map(str::to_owned);
    Ok(AuthorizationRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: granted.join(" "),
        state,
        nonce,
        code_challenge: code_challenge.to_owned(),
        login_hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> OAuthClient {
        OAuthClient {
            client_id: "web".into(),
            project_id: Some("p".into()),
            name: "Web".into(),
            redirect_uris: vec!["http://localhost:3000".into()],
            allowed_origins: vec![],
            from_config: false,
        }
    }

    fn query(extra: &str) -> String {
        format!(
            "client_id=web&redirect_uri=http%3A%2F%2Flocalhost%3A3000&response_type=code\
             &code_challenge={CHALLENGE}&code_challenge_method=S256&state=abc%3Bx&{extra}"
        )
    }

    fn check(q: &str) -> Result<AuthorizationRequest, AuthorizationError> {
        validate(Params::parse(q), Some(&client()))
    }

    fn redirected(q: &str) -> (&'static str, Option<String>) {
        match check(q) {
            Err(AuthorizationError::Redirect(r)) => (r.error, r.state),
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_passes_and_round_trips() {
        let request = check(&query("nonce=n1&scope=openid%20profile%20bogus")).unwrap();
        assert_eq!(request.scope, "openid profile");
        assert_eq!(request.state.as_deref(), Some("abc;x"));
        assert_eq!(request.nonce.as_deref(), Some("n1"));
        let again: Vec<(String, String)> = request
            .to_pairs()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            validate(Params::from_pairs(again), Some(&client())).unwrap(),
            request
        );
        assert_eq!(
            request.success_redirect("C1"),
            "http://localhost:3000?code=C1&state=abc%3Bx"
        );
        assert_eq!(check(&query("")).unwrap().scope, "openid");
    }

    #[test]
    fn client_and_redirect_problems_are_pages() {
        let unknown = validate(Params::parse(&query("")), None);
        assert!(matches!(unknown, Err(AuthorizationError::Page { .. })));
        let other_uri = check(&query("").replace("3000", "3001"));
        assert!(matches!(other_uri, Err(AuthorizationError::Page { .. })));
        let missing = check("client_id=web&response_type=code");
        assert!(matches!(missing, Err(AuthorizationError::Page { .. })));
        let repeated = check(&query("client_id=web"));
        assert!(matches!(repeated, Err(AuthorizationError::Page { .. })));
    }

    #[test]
    fn other_problems_redirect_with_state() {
        let state = Some("abc;x".to_owned());
        assert_eq!(
            redirected(&query("").replace("response_type=code", "response_type=token")),
            ("unsupported_response_type", state.clone())
        );
        assert_eq!(
            redirected(&query("").replace("S256", "plain")),
            ("invalid_request", state.clone())
        );
        assert_eq!(
            redirected(&query("").replace(CHALLENGE, "short")),
            ("invalid_request", state.clone())
        );
        assert_eq!(
            redirected(&query("").replace(&format!("code_challenge={CHALLENGE}&"), "")),
            ("invalid_request", state.clone())
        );
        assert_eq!(
            redirected(&query("prompt=none")),
            ("login_required", state.clone())
        );
        assert_eq!(
            redirected(&query("response_mode=fragment")),
            ("invalid_request", state)
        );
    }

    #[test]
    fn error_redirects_are_encoded() {
        let e = RedirectError {
            redirect_uri: "http://localhost:3000".into(),
            error: "access_denied",
            description: "no & yes".into(),
            state: Some("s s".into()),
        };
        assert_eq!(
            e.location(),
            "http://localhost:3000?error=access_denied&error_description=no%20%26%20yes&state=s%20s"
        );
    }
}
