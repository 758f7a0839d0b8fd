//! Who is asking: project credentials (HTTP Basic) or an access token (Bearer).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::ApiState;
use crate::error::ApiError;
use weft_auth::secret::{constant_time_eq, hash_secret};
use weft_auth::{AccessClaims, TokenKind};
use weft_core::time::now_ms;
use weft_store::resources::Resource;

/// A caller holding a project's API token.
#[derive(Debug, Clone)]
pub struct ProjectAuth {
    pub project_id: String,
}

/// A caller holding a valid, unrevoked access token.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    pub claims: AccessClaims,
    /// The subscriber the token speaks for (`None` for guests).
    pub subscriber: Option<Resource>,
}

/// Either kind of caller (for endpoints both may use).
#[derive(Debug, Clone)]
pub enum AnyAuth {
    Project(ProjectAuth),
    Bearer(Box<BearerAuth>),
}

impl AnyAuth {
    pub fn project_id(&self) -> &str {
        match self {
            AnyAuth::Project(p) => &p.project_id,
            AnyAuth::Bearer(b) => &b.claims.project_id,
        }
    }
}

fn authorization(parts: &Parts) -> Option<&str> {
    parts.headers.get(AUTHORIZATION)?.to_str().ok()
}

fn scheme_value<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, value) = header.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| value.trim())
}

async fn basic(state: &ApiState, value: &str) -> Result<ProjectAuth, ApiError> {
    let decoded = STANDARD.decode(value).map_err(|_| ApiError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    let (user, token) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::Unauthorized);
    }
    let owner = state
        .store
        .project_of_api_token(&hash_secret(token))
        .await?;
    match owner {
        Some(project_id) if constant_time_eq(project_id.as_bytes(), user.as_bytes()) => {
            Ok(ProjectAuth { project_id })
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// Verifies an access token: signature, expiry, revocation, and that its subscriber still exists.
pub async fn verify_access_token(state: &ApiState, token: &str) -> Result<BearerAuth, ApiError> {
    let claims = state
        .issuer
        .verify(token, now_ms() / 1000)
        .map_err(|_| ApiError::Unauthorized)?;
    if state.store.is_jti_revoked(&claims.jti).await? {
        return Err(ApiError::Unauthorized);
    }
    let subscriber = match claims.kind {
        TokenKind::Guest => None,
        TokenKind::Subscriber => {
            match state.store.resource(&claims.project_id, &claims.sub).await {
                Ok(r) => Some(r),
                Err(weft_store::StoreError::NotFound) => return Err(ApiError::Unauthorized),
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(BearerAuth { claims, subscriber })
}

impl FromRequestParts<ApiState> for ProjectAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let value = authorization(parts)
            .and_then(|h| scheme_value(h, "Basic"))
            .ok_or(ApiError::Unauthorized)?;
        basic(state, value).await
    }
}

impl FromRequestParts<ApiState> for BearerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = authorization(parts)
            .and_then(|h| scheme_value(h, "Bearer"))
            .ok_or(ApiError::Unauthorized)?;
        verify_access_token(state, token).await
    }
}

impl FromRequestParts<ApiState> for AnyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = authorization(parts).ok_or(ApiError::Unauthorized)?;
        if let Some(token) = scheme_value(header, "Bearer") {
            return Ok(AnyAuth::Bearer(Box::new(
                verify_access_token(state, token).await?,
            )));
        }
        let value = scheme_value(header, "Basic").ok_or(ApiError::Unauthorized)?;
        Ok(AnyAuth::Project(basic(state, value).await?))
    }
}
