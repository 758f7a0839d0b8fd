//! `GET /oauth/logout` (the `end_session_endpoint`): Weft keeps no login session, so signing out
//! clears the login-form cookie and returns to a registered address of the client, if asked to.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::OAuthState;
use super::authorize::{html, redirect};
use super::csrf::COOKIE;
use super::page;
use super::params::{Params, with_query};

/// Signs out; redirects to `post_logout_redirect_uri` when it is registered for the client named
/// by `client_id` or by the `id_token_hint`'s audience.
pub async fn logout(State(state): State<OAuthState>, RawQuery(query): RawQuery) -> Response {
    let mut response = match Params::parse(query.as_deref().unwrap_or("")) {
        Err(e) => html(
            StatusCode::BAD_REQUEST,
            page::error("This sign-out link is not valid", &e.describe()),
        ),
        Ok(params) => sign_out(&state, &params).await,
    };
    let clear = format!("{COOKIE}=; Path=/login/oauth; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn sign_out(state: &OAuthState, params: &Params) -> Response {
    let Some(target) = params.get("post_logout_redirect_uri") else {
        return html(StatusCode::OK, page::signed_out());
    };
    let hinted = params.get("id_token_hint").and_then(|t| {
        let (_, claims) = state.api.issuer.key().verify(t).ok()?;
        claims.get("aud").and_then(Value::as_str).map(str::to_owned)
    });
    let client_id = params.get("client_id").map(str::to_owned).or(hinted);
    let client = match client_id {
        Some(id) => state.registry.find(&id).await.ok().flatten(),
        None => None,
    };
    match client {
        Some(c) if c.allows_redirect(target) => {
            let pairs: Vec<(&str, &str)> = params
                .get("state")
                .map(|s| ("state", s))
                .into_iter()
                .collect();
            redirect(&with_query(target, &pairs))
        }
        _ => html(
            StatusCode::BAD_REQUEST,
            page::error(
                "You are signed out",
                "The address to return to is not registered for this application.",
            ),
        ),
    }
}
