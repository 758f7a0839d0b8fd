//! Token endpoints for servers holding project credentials: subscriber, guest, refresh, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use weft_auth::{TokenError, TokenKind};
use weft_core::ResourceKind;
use weft_core::time::now_ms;
use weft_store::resources::Resource;

use super::resources::create_subscriber;
use super::verify_password;
use crate::auth::ProjectAuth;
use crate::body::{Fields, JsonObject, MAX_STRING};
use crate::error::ApiError;
use crate::{ApiState, Grant};

/// The longest lifetime a caller may ask for, in seconds.
const MAX_LIFETIME: i64 = 366 * 24 * 3600;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/fabric/subscribers/tokens", post(subscriber_token))
        .route("/api/fabric/subscribers/tokens/refresh", post(refresh))
        .route("/api/fabric/subscribers/tokens/revoke", post(revoke))
        .route("/api/fabric/guests/tokens", post(guest_token))
}

fn expire_at(fields: &mut Fields) -> Option<i64> {
    let now = now_ms() / 1000;
    fields.integer("expire_at", false, now + 1, now + MAX_LIFETIME)
}

/// Profile fields a token request may carry for a subscriber it creates.
const PROFILE: [(&str, &str); 8] = [
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("display_name", "display_name"),
    ("job_title", "job_title"),
    ("time_zone", "timezone"),
    ("country", "country"),
    ("region", "region"),
    ("company_name", "company_name"),
];

async fn find_subscriber(
    state: &ApiState,
    project_id: &str,
    reference: &str,
) -> Result<Option<(Resource, Option<String>)>, ApiError> {
    if let Some(found) = state
        .store
        .subscriber_by_email(project_id, &reference.to_lowercase())
        .await?
    {
        return Ok(Some(found));
    }
    match state.store.resource(project_id, reference).await {
        Ok(r) if r.kind == ResourceKind::Subscriber => {
            let hash = state.store.subscriber_password_hash(&r.id).await?;
            Ok(Some((r, hash)))
        }
        Ok(_) | Err(weft_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn subscriber_token(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::new(&body);
    let reference = fields.string("reference", true, 254);
    let password = fields.string("password", false, 1024);
    let scope = fields.string("scope", false, MAX_STRING);
    let expire_at = expire_at(&mut fields);
    for key in ["fingerprint", "application_id"] {
        fields.string(key, false, MAX_STRING);
    }
    let mut profile = Map::new();
    for (given, stored) in PROFILE {
        if let Some(v) = fields.string(given, false, MAX_STRING) {
            profile.insert(stored.to_owned(), json!(v));
        }
    }
    fields.finish()?;
    let reference = reference.ok_or(ApiError::Internal)?.trim().to_owned();

    let subscriber = match find_subscriber(&state, &auth.project_id, &reference).await? {
        Some((subscriber, hash)) => {
            if let (Some(given), Some(hash)) = (password, hash)
                && !verify_password(given, hash).await
            {
                tracing::info!(resource_id = %subscriber.id, "subscriber token refused: wrong password");
                return Err(ApiError::Unauthorized);
            }
            subscriber
        }
        None => {
            create_subscriber(
                &state.store,
                &auth.project_id,
                reference.to_lowercase(),
                password,
                profile,
            )
            .await?
        }
    };
    let grant = Grant {
        kind: TokenKind::Subscriber,
        project_id: auth.project_id.clone(),
        sub: subscriber.inner_id.clone(),
        scope: scope.unwrap_or_else(|| "sat".into()),
        allowed_addresses: vec![],
    };
    let issued = state.grants().issue(&grant, expire_at).await?;
    Ok(Json(json!({
        "subscriber_id": subscriber.inner_id,
        "token": issued.access_token,
        "refresh_token": issued.refresh_token,
    })))
}

async fn refresh(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields = Fields::new(&body);
    let token = fields.string("refresh_token", true, 512);
    fields.finish()?;
    let token = token.ok_or(ApiError::Internal)?;
    let (_, issued) = state
        .grants()
        .refresh(&token, Some(&auth.project_id))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": issued.access_token, "refresh_token": issued.refresh_token})),
    ))
}

async fn guest_token(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields = Fields::new(&body);
    let allowed = fields.strings("allowed_addresses", true, 10, 64);
    let expire_at = expire_at(&mut fields);
    fields.string("region", false, MAX_STRING);
    fields.string("ch", false, MAX_STRING);
    if allowed.as_ref().is_some_and(Vec::is_empty) {
        fields.reject(
            "allowed_addresses",
            "invalid_parameter",
            "allowed_addresses needs at least one address id",
        );
    }
    fields.finish()?;
    let allowed = allowed.ok_or(ApiError::Internal)?;
    for id in &allowed {
        if state.store.address(&auth.project_id, id).await.is_err() {
            return Err(ApiError::invalid(
                "allowed_addresses",
                "invalid_parameter",
                format!("address {id} does not exist"),
            ));
        }
    }
    let grant = Grant {
        kind: TokenKind::Guest,
        project_id: auth.project_id.clone(),
        sub: uuid::Uuid::new_v4().to_string(),
        scope: "guest".into(),
        allowed_addresses: allowed,
    };
    let issued = state.grants().issue(&grant, expire_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": issued.access_token, "refresh_token": issued.refresh_token})),
    ))
}

/// Revokes an access token (`token`) or a refresh token's whole family (`refresh_token`).
async fn revoke(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    JsonObject(body): JsonObject,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::new(&body);
    let token = fields.string("token", false, 8192);
    let refresh_token = fields.string("refresh_token", false, 512);
    if token.is_none() && refresh_token.is_none() {
        fields.reject(
            "token",
            "missing_parameter",
            "token or refresh_token is required",
        );
    }
    fields.finish()?;
    if let Some(token) = token {
        match state.issuer.verify(&token, now_ms() / 1000) {
            Ok(claims) if claims.project_id == auth.project_id => {
                state.grants().revoke_access(&claims).await?
            }
            // An expired token needs no revocation.
            Err(TokenError::Expired) => {}
            _ => {
                return Err(ApiError::invalid(
                    "token",
                    "invalid_parameter",
                    "token is not a valid access token of this project",
                ));
            }
        }
    }
    if let Some(refresh_token) = refresh_token {
        state
            .grants()
            .revoke_refresh(&refresh_token, &auth.project_id)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
