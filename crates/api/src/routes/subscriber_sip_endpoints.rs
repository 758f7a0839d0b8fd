//! `/api/fabric/resources/subscribers/{id}/sip_endpoints`: a subscriber's own SIP endpoints.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};
use weft_core::ResourceKind;

use crate::auth::ProjectAuth;
use crate::body::{JsonObject, Params};
use crate::error::ApiError;
use crate::paging::{list_body, page_request};
use crate::schema::{SipEndpointInput, sip_endpoint_input};
use crate::sip_credentials;
use crate::{ApiState, views};

const BASE: &str = "/api/fabric/resources/subscribers/{sid}/sip_endpoints";

pub fn routes() -> Router<ApiState> {
    Router::new().route(BASE, get(list).post(create)).route(
        &format!("{BASE}/{{id}}"),
        get(read).put(update).patch(update).delete(delete),
    )
}

/// The subscriber's resource id, checking it is a subscriber of this project.
async fn subscriber(state: &ApiState, project_id: &str, sid: &str) -> Result<String, ApiError> {
    let r = state.store.resource(project_id, sid).await?;
    if r.kind != ResourceKind::Subscriber {
        return Err(ApiError::NotFound);
    }
    Ok(r.id)
}

async fn list(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(sid): Path<String>,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    let sid = subscriber(&state, &auth.project_id, &sid).await?;
    let page = page_request(&params)?;
    let rows = state
        .store
        .list_sip_endpoints(&sid, page.after.as_ref(), page.size)
        .await?;
    Ok(Json(list_body(
        uri.path(),
        &params,
        rows,
        views::sip_endpoint,
    )))
}

async fn create(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(sid): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let sid = subscriber(&state, &auth.project_id, &sid).await?;
    let SipEndpointInput {
        username,
        password,
        fields,
    } = sip_endpoint_input(&body, false)?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Internal);
    };
    let secrets = sip_credentials::secrets(&username, &state.config.sip_realm, password).await?;
    let endpoint = state
        .store
        .create_sip_endpoint(
            &auth.project_id,
            &sid,
            &username,
            &secrets,
            Value::Object(fields),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::sip_endpoint(&endpoint))))
}

async fn read(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path((sid, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let sid = subscriber(&state, &auth.project_id, &sid).await?;
    Ok(Json(views::sip_endpoint(
        &state.store.sip_endpoint(&sid, &id).await?,
    )))
}

async fn update(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path((sid, id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let sid = subscriber(&state, &auth.project_id, &sid).await?;
    let current = state.store.sip_endpoint(&sid, &id).await?;
    let SipEndpointInput {
        username,
        password,
        fields,
    } = sip_endpoint_input(&body, true)?;
    let mut merged = match current.body {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    merged.extend(fields);
    let username = username.unwrap_or_else(|| current.username.clone());
    sip_credentials::check_rename(&current.username, &username, password.is_some())?;
    let secrets = match password {
        Some(p) => Some(sip_credentials::secrets(&username, &state.config.sip_realm, p).await?),
        None => None,
    };
    let updated = state
        .store
        .update_sip_endpoint(
            &sid,
            &id,
            &username,
            secrets.as_ref(),
            Value::Object(merged),
        )
        .await?;
    Ok(Json(views::sip_endpoint(&updated)))
}

async fn delete(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path((sid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sid = subscriber(&state, &auth.project_id, &sid).await?;
    state.store.delete_sip_endpoint(&sid, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
