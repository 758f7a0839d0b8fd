//! `/api/fabric/resources`: every resource, and the per-kind collections.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use weft_core::ResourceKind;
use weft_core::address::slug;
use weft_store::addresses::{AddressFilter, AddressSort};
use weft_store::resources::{Login, NewResource, Resource, ResourceUpdate};
use weft_store::sip_accounts::SipDigest;
use weft_store::{SortOrder, Store, StoreError};

use super::hash_password;
use crate::auth::ProjectAuth;
use crate::body::{JsonObject, Params};
use crate::error::ApiError;
use crate::paging::{list_body, page_request};
use crate::schema::{defaults, resource_input};
use crate::sip_credentials::{self, check_rename};
use crate::{ApiState, views};

pub fn routes() -> Router<ApiState> {
    let mut router = Router::new()
        .route("/api/fabric/resources", get(list_all))
        .route(
            "/api/fabric/resources/{id}",
            get(get_any).delete(delete_any),
        )
        .route(
            "/api/fabric/resources/{id}/addresses",
            get(addresses_of_any),
        )
        .route(
            "/api/fabric/conference_room/{id}/addresses",
            get(addresses_of_any),
        )
        .route(
            "/api/fabric/resources/conference_room/{id}/addresses",
            get(move |s, a, p, q, u| addresses_of_kind(ResourceKind::VideoRoom, s, a, p, q, u)),
        );
    for kind in ResourceKind::ALL {
        let base = format!("/api/fabric/resources/{}", kind.collection());
        router = router
            .route(
                &base,
                get(move |s, a, p, u| list_kind(kind, s, a, p, u))
                    .post(move |s, a, b| create(kind, s, a, b)),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(move |s, a, p| get_kind(kind, s, a, p))
                    .put(move |s, a, p, b| update(kind, s, a, p, b))
                    .patch(move |s, a, p, b| update(kind, s, a, p, b))
                    .delete(move |s, a, p| delete_kind(kind, s, a, p)),
            )
            .route(
                &format!("{base}/{{id}}/addresses"),
                get(move |s, a, p, q, u| addresses_of_kind(kind, s, a, p, q, u)),
            );
    }
    router
}

async fn list_all(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list(None, state, auth, params, uri.path()).await
}

async fn list_kind(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list(Some(kind), state, auth, params, uri.path()).await
}

async fn list(
    kind: Option<ResourceKind>,
    state: ApiState,
    auth: ProjectAuth,
    params: Params,
    path: &str,
) -> Result<Json<Value>, ApiError> {
    let page = page_request(&params)?;
    let rows = state
        .store
        .list_resources(&auth.project_id, kind, page.after.as_ref(), page.size)
        .await?;
    Ok(Json(list_body(path, &params, rows, views::resource)))
}

/// A resource of this project, of the given kind when one is given.
async fn find(
    state: &ApiState,
    project_id: &str,
    id: &str,
    kind: Option<ResourceKind>,
) -> Result<Resource, ApiError> {
    let resource = state.store.resource(project_id, id).await?;
    match kind {
        Some(k) if k != resource.kind => Err(ApiError::NotFound),
        _ => Ok(resource),
    }
}

async fn get_any(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = find(&state, &auth.project_id, &id, None).await?;
    Ok(Json(views::resource(&r)))
}

async fn get_kind(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = find(&state, &auth.project_id, &id, Some(kind)).await?;
    Ok(Json(views::resource(&r)))
}

async fn delete_any(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete(None, state, auth, id).await
}

async fn delete_kind(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete(Some(kind), state, auth, id).await
}

async fn delete(
    kind: Option<ResourceKind>,
    state: ApiState,
    auth: ProjectAuth,
    id: String,
) -> Result<StatusCode, ApiError> {
    let r = find(&state, &auth.project_id, &id, kind).await?;
    state.store.delete_resource(&auth.project_id, &r.id).await?;
    tracing::info!(resource_id = %r.id, kind = r.kind.type_value(), "resource deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn addresses_of_any(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    addresses_of(None, state, auth, id, params, uri.path()).await
}

async fn addresses_of_kind(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    addresses_of(Some(kind), state, auth, id, params, uri.path()).await
}

async fn addresses_of(
    kind: Option<ResourceKind>,
    state: ApiState,
    auth: ProjectAuth,
    id: String,
    params: Params,
    path: &str,
) -> Result<Json<Value>, ApiError> {
    let r = find(&state, &auth.project_id, &id, kind).await?;
    let page = page_request(&params)?;
    let filter = AddressFilter {
        resource_id: Some(r.id),
        ..AddressFilter::default()
    };
    let rows = state
        .store
        .list_addresses(
            &auth.project_id,
            &filter,
            AddressSort::CreatedAt,
            SortOrder::Asc,
            page.after.as_ref(),
            page.size,
        )
        .await?;
    Ok(Json(list_body(path, &params, rows, views::address)))
}

/// A taken name is reported under the field that carries it (`username` for SIP endpoints).
fn name_error(kind: ResourceKind, error: StoreError) -> ApiError {
    match (kind, error) {
        (ResourceKind::SipEndpoint, StoreError::Conflict("name")) => {
            ApiError::from(StoreError::Conflict("username"))
        }
        (_, other) => ApiError::from(other),
    }
}

/// The status SignalWire answers a create with, per kind.
fn created_status(kind: ResourceKind) -> StatusCode {
    match kind {
        ResourceKind::SwmlScript | ResourceKind::SipEndpoint | ResourceKind::VideoRoom => {
            StatusCode::OK
        }
        _ => StatusCode::CREATED,
    }
}

fn full_name(fields: &Map<String, Value>) -> Option<String> {
    let part = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (part("first_name"), part("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.to_owned()),
        (None, Some(l)) => Some(l.to_owned()),
        (None, None) => None,
    }
}

/// Builds and stores a subscriber from validated profile fields; shared with the token endpoint.
pub async fn create_subscriber(
    store: &Store,
    project_id: &str,
    email: String,
    password: Option<String>,
    profile: Map<String, Value>,
) -> Result<Resource, ApiError> {
    let mut body = defaults(ResourceKind::Subscriber);
    body.extend(profile);
    body.insert("email".into(), json!(email));
    let local = email.split('@').next().unwrap_or(&email);
    let name = store.free_address_name(project_id, &slug(local)).await?;
    let display_name = body
        .get("display_name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| full_name(&body))
        .unwrap_or_else(|| email.clone());
    let password_hash = match password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let resource = store
        .create_resource(
            project_id,
            NewResource {
                kind: ResourceKind::Subscriber,
                name,
                display_name,
                body: Value::Object(body),
                login: Some(Login {
                    email,
                    password_hash,
                }),
            },
        )
        .await?;
    tracing::info!(resource_id = %resource.id, "subscriber created");
    Ok(resource)
}

/// Stores a SIP endpoint resource's password as the hidden `_password_hash` (argon2) and
/// `_digest` (HA1 values for the realm).
async fn set_sip_password(
    fields: &mut Map<String, Value>,
    username: &str,
    realm: &str,
    password: String,
) -> Result<(), ApiError> {
    let secrets = sip_credentials::secrets(username, realm, password).await?;
    fields.insert("_password_hash".into(), json!(secrets.password_hash));
    fields.insert(SipDigest::BODY_KEY.into(), secrets.digest.to_json());
    Ok(())
}

async fn create(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let input = resource_input(kind, &body, false)?;
    let project_id = auth.project_id.as_str();
    let resource = if kind == ResourceKind::Subscriber {
        let email = input.email.ok_or(ApiError::Internal)?;
        create_subscriber(
            &state.store,
            project_id,
            email,
            input.password,
            input.fields,
        )
        .await?
    } else {
        let mut fields = defaults(kind);
        fields.extend(input.fields);
        let name = match input.name {
            Some(name) => name,
            None => format!(
                "{}-{}",
                kind.type_value().replace('_', "-"),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        };
        if kind == ResourceKind::SipEndpoint {
            fields.insert("username".into(), json!(name));
            if let Some(password) = input.password {
                set_sip_password(&mut fields, &name, &state.config.sip_realm, password).await?;
            }
        }
        let display_name = input.display_name.unwrap_or_else(|| name.clone());
        let resource = state
            .store
            .create_resource(
                project_id,
                NewResource {
                    kind,
                    name,
                    display_name,
                    body: Value::Object(fields),
                    login: None,
                },
            )
            .await
            .map_err(|e| name_error(kind, e))?;
        tracing::info!(resource_id = %resource.id, kind = kind.type_value(), "resource created");
        resource
    };
    Ok((created_status(kind), Json(views::resource(&resource))).into_response())
}

async fn update(
    kind: ResourceKind,
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let current = find(&state, &auth.project_id, &id, Some(kind)).await?;
    let input = resource_input(kind, &body, true)?;
    let mut fields = match current.body.clone() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.extend(input.fields);
    let mut update = ResourceUpdate {
        display_name: input.display_name,
        ..ResourceUpdate::default()
    };
    match kind {
        ResourceKind::Subscriber => {
            let password_hash = match input.password {
                Some(p) => Some(hash_password(p).await?),
                None => None,
            };
            if let Some(email) = &input.email {
                fields.insert("email".into(), json!(email));
            }
            if input.email.is_some() || password_hash.is_some() {
                let email = fields
                    .get("email")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                update.login = Some(Login {
                    email,
                    password_hash,
                });
            }
        }
        ResourceKind::SipEndpoint => {
            let username = input.name.as_deref().unwrap_or(&current.name);
            check_rename(&current.name, username, input.password.is_some())?;
            fields.insert("username".into(), json!(username));
            if let Some(password) = input.password {
                set_sip_password(&mut fields, username, &state.config.sip_realm, password).await?;
            }
            update.name = input.name;
        }
        _ => update.name = input.name,
    }
    update.body = Some(Value::Object(fields));
    let updated = state
        .store
        .update_resource(&auth.project_id, &current.id, update)
        .await
        .map_err(|e| name_error(kind, e))?;
    Ok(Json(views::resource(&updated)))
}
