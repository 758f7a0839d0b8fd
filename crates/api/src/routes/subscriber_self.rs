//! What a subscriber's own access token reaches: its info and its push devices.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use weft_store::SortOrder;
use weft_store::addresses::{AddressFilter, AddressSort};

use crate::auth::BearerAuth;
use crate::body::{Fields, JsonObject, MAX_STRING};
use crate::error::ApiError;
use crate::{ApiState, views};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/fabric/subscriber/info", get(info))
        .route("/subscriber/devices", post(add_device))
        .route("/subscriber/devices/{id}", delete(remove_device))
        .route("/api/fabric/subscriber/devices", post(add_device))
        .route("/api/fabric/subscriber/devices/{id}", delete(remove_device))
}

/// `GET /api/fabric/subscriber/info`: the profile and addresses the SDK's `getSubscriberInfo` returns.
async fn info(State(state): State<ApiState>, auth: BearerAuth) -> Result<Json<Value>, ApiError> {
    let subscriber = auth.subscriber.ok_or(ApiError::Forbidden)?;
    let filter = AddressFilter {
        resource_id: Some(subscriber.id.clone()),
        ..AddressFilter::default()
    };
    let addresses = state
        .store
        .list_addresses(
            &subscriber.project_id,
            &filter,
            AddressSort::CreatedAt,
            SortOrder::Asc,
            None,
            100,
        )
        .await?;
    let field = |key: &str| subscriber.body.get(key).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "id": subscriber.inner_id,
        "email": field("email"),
        "first_name": field("first_name"),
        "last_name": field("last_name"),
        "display_name": subscriber.display_name,
        "job_title": field("job_title"),
        "time_zone": field("timezone"),
        "country": field("country"),
        "region": field("region"),
        "company_name": field("company_name"),
        "push_notification_key": Value::Null,
        "app_settings": {"display_name": subscriber.display_name, "scopes": [auth.claims.scope]},
        "fabric_addresses": addresses.rows.iter().map(views::address).collect::<Vec<_>>(),
    })))
}

async fn add_device(
    State(state): State<ApiState>,
    auth: BearerAuth,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let subscriber = auth.subscriber.ok_or(ApiError::Forbidden)?;
    let mut fields = Fields::new(&body);
    let device_type = fields.choice(
        "device_type",
        true,
        &["Android", "iOS", "Web", "android", "ios", "web"],
    );
    let device_token = fields.string("device_token", true, 4096);
    fields.finish()?;
    let (Some(device_type), Some(device_token)) = (device_type, device_token) else {
        return Err(ApiError::Internal);
    };
    let id = state
        .store
        .add_device(&subscriber.id, &device_type, &device_token)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "device_type": device_type, "device_token": device_token})),
    ))
}

async fn remove_device(
    State(state): State<ApiState>,
    auth: BearerAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let subscriber = auth.subscriber.ok_or(ApiError::Forbidden)?;
    if id.len() > MAX_STRING {
        return Err(ApiError::NotFound);
    }
    state.store.delete_device(&subscriber.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
