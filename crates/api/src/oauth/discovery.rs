//! `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::OAuthState;
use super::request::SUPPORTED_SCOPES;

/// The provider metadata (OpenID Connect Discovery 1.0).
pub fn metadata(config: &super::OAuthConfig) -> Value {
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/login/oauth/authorize"),
        "token_endpoint": config.endpoint("/oauth/token"),
        "userinfo_endpoint": config.endpoint("/oauth/userinfo"),
        "jwks_uri": config.endpoint("/.well-known/jwks.json"),
        "end_session_endpoint": config.endpoint("/oauth/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": SUPPORTED_SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp",
            "email", "email_verified", "name", "given_name", "family_name", "preferred_username"],
        "prompt_values_supported": ["login"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

fn cacheable(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(State(state): State<OAuthState>) -> Response {
    cacheable(metadata(&state.config))
}

/// `GET /.well-known/jwks.json`: the key that signs access and id tokens.
pub async fn jwks(State(state): State<OAuthState>) -> Response {
    cacheable(json!({"keys": [state.api.issuer.key().public_jwk()]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let config = super::super::OAuthConfig::new("https://fabric.weft.localhost:8443/".into());
        let m = metadata(&config);
        assert_eq!(m["issuer"], "https://fabric.weft.localhost:8443");
        assert_eq!(
            m["token_endpoint"],
            "https://fabric.weft.localhost:8443/oauth/token"
        );
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none"]));
    }
}
