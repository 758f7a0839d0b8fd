//! `GET /login/oauth/authorize` (the login form) and its `POST` (checking the credentials and
//! redirecting back with a code).

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use weft_core::time::now_ms;

use super::clients::OAuthClient;
use super::csrf::{self, COOKIE};
use super::limiter::account_key;
use super::page::{self, LoginView};
use super::params::{Params, ParamsError};
use super::request::{self, AuthorizationError, AuthorizationRequest};
use super::{OAuthState, code};
use crate::routes::verify_password;

/// What the browser sent: the authorization request and, on `POST`, the form fields.
struct Attempt {
    params: Result<Params, ParamsError>,
    client: Option<OAuthClient>,
}

async fn attempt(
    state: &OAuthState,
    params: Result<Params, ParamsError>,
) -> Result<Attempt, Response> {
    let client = match params.as_ref().ok().and_then(|p| p.get("client_id")) {
        Some(id) => state
            .registry
            .find(id)
            .await
            .map_err(IntoResponse::into_response)?,
        None => None,
    };
    Ok(Attempt { params, client })
}

/// An invalid request's answer: an error page or an error redirect.
fn refusal(error: AuthorizationError) -> Response {
    match error {
        AuthorizationError::Page { title, detail } => {
            html(StatusCode::BAD_REQUEST, page::error(&title, &detail))
        }
        AuthorizationError::Redirect(r) => redirect(&r.location()),
    }
}

/// `GET /login/oauth/authorize`: shows the login form for a valid request.
pub async fn show(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let attempt = match attempt(&state, Params::parse(query.as_deref().unwrap_or(""))).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let request = match request::validate(attempt.params.clone(), attempt.client.as_ref()) {
        Ok(r) => r,
        Err(e) => return refusal(e),
    };
    let email = request.login_hint.clone().unwrap_or_default();
    form(
        &state,
        &headers,
        &attempt,
        &request,
        &email,
        None,
        StatusCode::OK,
    )
}

/// `POST /login/oauth/authorize`: checks CSRF, limits and credentials, then redirects with a code.
pub async fn submit(
    State(state): State<OAuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            page::error("This sign-in form is not valid", "The form is too large."),
        );
    };
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return html(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            page::error(
                "This sign-in form is not valid",
                "The form was not sent as a web form.",
            ),
        );
    }
    let params = match std::str::from_utf8(&body) {
        Ok(text) => Params::parse(text),
        Err(_) => Err(ParamsError::TooLarge),
    };
    let attempt = match attempt(&state, params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let request = match request::validate(attempt.params.clone(), attempt.client.as_ref()) {
        Ok(r) => r,
        Err(e) => return refusal(e),
    };
    let fields = attempt.params.as_ref().ok();
    let field = |name: &str| fields.and_then(|p| p.get(name)).unwrap_or("");
    let email = field("email").trim().to_lowercase();
    let password = field("password").to_owned();
    let now = now_ms();

    let csrf_ok = cookie(&headers).is_some_and(|binding| {
        state
            .csrf
            .verify(field("csrf_token"), &binding, &request, now / 1000)
    });
    if !csrf_ok {
        let message = "This sign-in form has expired. Please enter your details again.";
        return form(
            &state,
            &headers,
            &attempt,
            &request,
            &email,
            Some((message, false)),
            StatusCode::FORBIDDEN,
        );
    }
    if email.is_empty() || password.is_empty() || email.len() > 254 {
        let message = "Enter your email address and password.";
        return form(
            &state,
            &headers,
            &attempt,
            &request,
            &email,
            Some((message, true)),
            StatusCode::BAD_REQUEST,
        );
    }
    let Some(project_id) = attempt.client.as_ref().and_then(|c| c.project_id.clone()) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::error("Unknown application", "The application is not registered."),
        );
    };

    let account = account_key(&project_id, &email);
    let address = peer.ip();
    if let Err(blocked) = state
        .limiter()
        .check(&account, address, state.monotonic_secs())
    {
        let minutes = blocked.retry_after_secs.div_ceil(60);
        let message = format!(
            "Too many failed sign-in attempts. Please wait {minutes} minute{} and try again.",
            if minutes == 1 { "" } else { "s" }
        );
        let mut response = form(
            &state,
            &headers,
            &attempt,
            &request,
            &email,
            Some((&message, false)),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&blocked.retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }

    let subscriber = match state
        .api
        .store
        .subscriber_by_email(&project_id, &email)
        .await
    {
        Ok(found) => found,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let (subscriber, hash) = match subscriber {
        Some((s, Some(hash))) => (Some(s), hash),
        _ => (None, dummy_hash().await),
    };
    let password_ok = verify_password(password, hash).await;
    let Some(subscriber) = subscriber.filter(|_| password_ok) else {
        state
            .limiter()
            .fail(&account, address, state.monotonic_secs());
        tracing::info!(client_id = %request.client_id, %address, "OAuth login refused: wrong email or password");
        let message = "The email or password is incorrect.";
        return form(
            &state,
            &headers,
            &attempt,
            &request,
            &email,
            Some((message, true)),
            StatusCode::UNAUTHORIZED,
        );
    };
    state.limiter().succeed(&account);

    let issued = code::issue(
        &request,
        &project_id,
        &subscriber.inner_id,
        now_ms(),
        state.config.code_ttl_secs,
    );
    if let Err(e) = state.api.store.add_auth_code(&issued.stored).await {
        return crate::ApiError::from(e).into_response();
    }
    tracing::info!(client_id = %request.client_id, resource_id = %subscriber.id, "OAuth login: code issued");
    redirect(&request.success_redirect(&issued.code))
}

/// Renders the login form with a fresh CSRF token (setting the binding cookie when needed).
fn form(
    state: &OAuthState,
    headers: &HeaderMap,
    attempt: &Attempt,
    request: &AuthorizationRequest,
    email: &str,
    error: Option<(&str, bool)>,
    status: StatusCode,
) -> Response {
    let (binding, fresh) = match cookie(headers) {
        Some(b) => (b, false),
        None => (csrf::new_binding(), true),
    };
    let token = state.csrf.token(&binding, request, now_ms() / 1000);
    let mut hidden = request.to_pairs();
    hidden.push(("csrf_token", token.as_str()));
    let client_name = attempt
        .client
        .as_ref()
        .map(|c| {
            if c.name.is_empty() {
                c.client_id.as_str()
            } else {
                c.name.as_str()
            }
        })
        .unwrap_or_default();
    let view = LoginView {
        client_name,
        hidden,
        email,
        error: error.map(|(m, _)| m),
        credentials_invalid: error.is_some_and(|(_, c)| c),
    };
    let mut response = html(status, page::login(&view));
    if fresh {
        let secure = if served_from_issuer(state, headers) {
            "; Secure"
        } else {
            ""
        };
        let value = format!(
            "{COOKIE}={binding}; Path=/login/oauth; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            csrf::FORM_TTL_SECS
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

/// Whether the request came to the issuer's (HTTPS) host.
fn served_from_issuer(state: &OAuthState, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let issuer_host = state.config.issuer.strip_prefix("https://");
    matches!((host, issuer_host), (Some(h), Some(i)) if h == i || i.split(':').next() == Some(h))
}

/// The binding cookie, if the browser sent a well-formed one.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && csrf::is_binding(value))
        .map(|(_, value)| value.to_owned())
}

/// A hash to check passwords of unknown accounts against, so they take as long as known ones.
async fn dummy_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(h) = HASH.get() {
        return h.clone();
    }
    let computed = crate::routes::hash_password(weft_auth::secret::new_secret("dummy"))
        .await
        .unwrap_or_default();
    HASH.get_or_init(|| computed).clone()
}

/// An HTML response that is never cached nor framed.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// A `303 See Other` to `location`.
pub(super) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
        )
            .into_response(),
        Err(_) => html(
            StatusCode::BAD_REQUEST,
            page::error(
                "This sign-in link is not valid",
                "The return address cannot be used.",
            ),
        ),
    }
}
