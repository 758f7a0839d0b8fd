//! `POST /oauth/token`: the `authorization_code` and `refresh_token` grants (RFC 6749 §4.1.3,
//! §6), with JSON answers and §5.2 error bodies.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use weft_auth::TokenKind;
use weft_auth::secret::hash_secret;
use weft_core::time::now_ms;
use weft_store::oauth::{CodeRedemption, OAuthRefreshRow};
use weft_store::resources::Resource;

use super::OAuthState;
use super::clients::OAuthClient;
use super::code::{Exchange, check_exchange};
use super::id_token::{self, IdTokenFacts};
use super::params::{Params, decode};
use crate::{ApiError, Grant, IssuedTokens};

/// A §5.2 error.
#[derive(Debug)]
pub struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        TokenError {
            status,
            error,
            description: description.into(),
        }
    }
}

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized | ApiError::NotFound => {
                TokenError::new("invalid_grant", "the grant is invalid, expired or revoked")
            }
            other => {
                tracing::error!(error = ?other, "token endpoint failure");
                TokenError::new("server_error", "the server could not complete the request")
            }
        }
    }
}

impl From<weft_store::StoreError> for TokenError {
    fn from(e: weft_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        no_store((self.status, axum::Json(body)).into_response())
    }
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return TokenError::new(
            "invalid_request",
            "the request body is too large or unreadable",
        )
        .into_response();
    };
    match grant(&state, &headers, &body).await {
        Ok(body) => no_store((StatusCode::OK, axum::Json(body)).into_response()),
        Err(e) => e.into_response(),
    }
}

async fn grant(state: &OAuthState, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(TokenError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| TokenError::new("invalid_request", "the body is not UTF-8"))?;
    let params =
        Params::parse(text).map_err(|e| TokenError::new("invalid_request", e.describe()))?;
    let client = client(state, headers, &params).await?;
    match params.get("grant_type") {
        None => Err(TokenError::new("invalid_request", "grant_type is required")),
        Some("authorization_code") => authorization_code(state, &client, &params).await,
        Some("refresh_token") => refresh_token(state, &client, &params).await,
        Some(_) => Err(TokenError::new(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

/// The public client making the request: `client_id` in the body, or HTTP Basic with an empty
/// secret.
async fn client(
    state: &OAuthState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<OAuthClient, TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, value)| {
            let decoded = STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| TokenError::new("invalid_client", "malformed Basic credentials"))?;
            let (id, secret) = decoded.split_once(':').unwrap_or((&decoded, ""));
            if !secret.is_empty() {
                return Err(TokenError::new(
                    "invalid_client",
                    "public clients have no secret",
                ));
            }
            Ok(decode(id))
        })
        .transpose()?;
    let client_id = match (basic.as_deref(), params.get("client_id")) {
        (Some(a), Some(b)) if a != b => {
            return Err(TokenError::new(
                "invalid_request",
                "client_id differs from the Basic credentials",
            ));
        }
        (Some(id), _) | (None, Some(id)) => id.to_owned(),
        (None, None) => return Err(TokenError::new("invalid_request", "client_id is required")),
    };
    state
        .registry
        .find(&client_id)
        .await
        .map_err(TokenError::from)?
        .ok_or_else(|| TokenError::new("invalid_client", "unknown client"))
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, TokenError> {
    params
        .get(name)
        .ok_or_else(|| TokenError::new("invalid_request", format!("{name} is required")))
}

async fn authorization_code(
    state: &OAuthState,
    client: &OAuthClient,
    params: &Params,
) -> Result<Value, TokenError> {
    let code = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?;
    let code_verifier = required(params, "code_verifier")?;
    let invalid = |d: &str| TokenError::new("invalid_grant", d);
    if code.len() > 512 {
        return Err(invalid("unknown authorization code"));
    }
    let store = &state.api.store;
    let code_hash = hash_secret(code);
    let row = match store.redeem_auth_code(&code_hash).await? {
        CodeRedemption::Fresh(row) => row,
        CodeRedemption::Unknown => return Err(invalid("unknown authorization code")),
        CodeRedemption::Reused {
            project_id,
            refresh_hash,
            access_jti,
            access_exp,
        } => {
            if let Some(hash) = refresh_hash {
                store.revoke_refresh_token(&hash, &project_id).await?;
            }
            if let (Some(jti), Some(exp)) = (access_jti, access_exp) {
                store.revoke_jti(&jti, exp).await?;
            }
            tracing::warn!(client_id = %client.client_id, "authorization code reused; its tokens are revoked");
            return Err(invalid(
                "the authorization code was already used; the tokens issued for it are revoked",
            ));
        }
    };
    let exchange = Exchange {
        client_id: &client.client_id,
        redirect_uri,
        code_verifier,
    };
    check_exchange(&row, &exchange, now_ms()).map_err(invalid)?;
    let subscriber = store
        .resource(&row.project_id, &row.subscriber_id)
        .await
        .map_err(|_| invalid("the subscriber no longer exists"))?;
    let grant = Grant {
        kind: TokenKind::Subscriber,
        project_id: row.project_id.clone(),
        sub: subscriber.inner_id.clone(),
        scope: row.scope.clone(),
        allowed_addresses: vec![],
    };
    let issued = state.api.grants().issue(&grant, None).await?;
    store
        .record_code_tokens(
            &code_hash,
            &hash_secret(&issued.refresh_token),
            &issued.claims.jti,
            issued.claims.exp * 1000,
        )
        .await?;
    respond(
        state,
        client,
        &subscriber,
        &grant,
        &issued,
        row.auth_time,
        row.nonce.as_deref(),
    )
    .await
}

async fn refresh_token(
    state: &OAuthState,
    client: &OAuthClient,
    params: &Params,
) -> Result<Value, TokenError> {
    let token = required(params, "refresh_token")?;
    let invalid = || {
        TokenError::new(
            "invalid_grant",
            "the refresh token is invalid, expired, revoked or was already used",
        )
    };
    if token.len() > 512 {
        return Err(invalid());
    }
    let store = &state.api.store;
    let Some(origin) = store.oauth_refresh(&hash_secret(token)).await? else {
        return Err(invalid());
    };
    if origin.client_id != client.client_id {
        return Err(TokenError::new(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    let (grant, issued) = state
        .api
        .grants()
        .refresh(token, Some(&origin.project_id))
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized => invalid(),
            other => TokenError::from(other),
        })?;
    if let Some(asked) = params.get("scope")
        && !asked
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| grant.scope.split(' ').any(|g| g == s))
    {
        return Err(TokenError::new(
            "invalid_scope",
            "a refresh cannot widen the scope",
        ));
    }
    let subscriber = store
        .resource(&grant.project_id, &grant.sub)
        .await
        .map_err(|_| invalid())?;
    respond(
        state,
        client,
        &subscriber,
        &grant,
        &issued,
        origin.auth_time,
        None,
    )
    .await
}

/// Records the new refresh token's client and builds the token response.
async fn respond(
    state: &OAuthState,
    client: &OAuthClient,
    subscriber: &Resource,
    grant: &Grant,
    issued: &IssuedTokens,
    auth_time: i64,
    nonce: Option<&str>,
) -> Result<Value, TokenError> {
    let now = now_ms();
    let origin = OAuthRefreshRow {
        client_id: client.client_id.clone(),
        project_id: grant.project_id.clone(),
        subscriber_id: subscriber.inner_id.clone(),
        auth_time,
    };
    let refresh_expires = now + state.api.config.refresh_ttl_secs * 1000;
    state
        .api
        .store
        .add_oauth_refresh(
            &hash_secret(&issued.refresh_token),
            &origin,
            refresh_expires,
        )
        .await?;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": grant.scope,
    });
    if grant.scope.split(' ').any(|s| s == "openid") {
        let facts = IdTokenFacts {
            issuer: &state.config.issuer,
            client_id: &client.client_id,
            nonce,
            auth_time,
            now: now / 1000,
            ttl_secs: state.config.id_token_ttl_secs,
        };
        body["id_token"] = json!(id_token::sign(state.api.issuer.key(), subscriber, &facts));
    }
    Ok(body)
}
