//! `GET|POST /oauth/userinfo`: the logged-in subscriber's claims, for a Bearer access token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::OAuthState;
use super::id_token::profile_claims;
use crate::auth::verify_access_token;

/// RFC 6750 §3: a 401 naming the problem.
fn refused(error: &'static str) -> Response {
    let challenge = format!("Bearer realm=\"weft\", error=\"{error}\"");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"error": error})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// The claims of the token's subscriber.
pub async fn userinfo(State(state): State<OAuthState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return refused("invalid_request");
    };
    match verify_access_token(&state.api, &token).await {
        Ok(auth) => match auth.subscriber {
            Some(subscriber) => {
                let mut response = Json(Value::Object(profile_claims(&subscriber))).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            None => refused("insufficient_scope"),
        },
        Err(_) => refused("invalid_token"),
    }
}
