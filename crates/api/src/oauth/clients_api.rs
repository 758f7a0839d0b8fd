//! `/api/weft/oauth_clients`: a project's OAuth clients over REST (project Basic auth).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::OAuthState;
use super::clients::{MAX_CLIENT_ID, MAX_URI, MAX_URIS, OAuthClient, create_client};
use crate::ApiError;
use crate::auth::ProjectAuth;
use crate::body::{Fields, JsonObject};

const PATH: &str = "/api/weft/oauth_clients";

pub fn routes() -> Router<OAuthState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route(&format!("{PATH}/{{client_id}}"), get(show).delete(remove))
}

/// Project credentials, checked against the API state.
struct Project(ProjectAuth);

impl FromRequestParts<OAuthState> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &OAuthState) -> Result<Self, ApiError> {
        Ok(Project(
            ProjectAuth::from_request_parts(parts, &state.api).await?,
        ))
    }
}

/// The project's clients from the configuration file (those without a project belong to the
/// first project).
async fn configured(state: &OAuthState, project_id: &str) -> Result<Vec<OAuthClient>, ApiError> {
    let first = state.api.store.first_project_id().await?;
    Ok(state
        .registry
        .configured()
        .iter()
        .filter(|c| c.project_id.as_deref().or(first.as_deref()) == Some(project_id))
        .map(|c| OAuthClient {
            project_id: Some(project_id.to_owned()),
            ..c.clone()
        })
        .collect())
}

async fn find(
    state: &OAuthState,
    project_id: &str,
    client_id: &str,
) -> Result<OAuthClient, ApiError> {
    match state.registry.find(client_id).await? {
        Some(c) if c.project_id.as_deref() == Some(project_id) => Ok(c),
        _ => Err(ApiError::NotFound),
    }
}

async fn list(
    State(state): State<OAuthState>,
    Project(auth): Project,
) -> Result<Json<Value>, ApiError> {
    let mut clients = configured(&state, &auth.project_id).await?;
    clients.extend(
        state
            .api
            .store
            .list_oauth_clients(&auth.project_id)
            .await?
            .into_iter()
            .map(OAuthClient::from),
    );
    Ok(Json(json!({
        "data": clients.iter().map(OAuthClient::to_json).collect::<Vec<_>>(),
        "links": {"self": PATH},
    })))
}

async fn create(
    State(state): State<OAuthState>,
    Project(auth): Project,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields = Fields::new(&body);
    let client_id = fields.string("client_id", false, MAX_CLIENT_ID);
    let name = fields.string("name", false, 255);
    let redirect_uris = fields.strings("redirect_uris", true, MAX_URIS, MAX_URI);
    let allowed_origins = fields.strings("allowed_origins", false, MAX_URIS, 255);
    fields.finish()?;
    let client_id = client_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let client = OAuthClient {
        name: name.unwrap_or_else(|| client_id.clone()),
        client_id,
        project_id: Some(auth.project_id.clone()),
        redirect_uris: redirect_uris.unwrap_or_default(),
        allowed_origins: allowed_origins.unwrap_or_default(),
        from_config: false,
    };
    let created = create_client(
        &state.api.store,
        state.registry.configured(),
        client,
        &auth.project_id,
    )
    .await?;
    tracing::info!(client_id = %created.client_id, "OAuth client registered");
    Ok((StatusCode::CREATED, Json(created.to_json())))
}

async fn show(
    State(state): State<OAuthState>,
    Project(auth): Project,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        find(&state, &auth.project_id, &client_id).await?.to_json(),
    ))
}

async fn remove(
    State(state): State<OAuthState>,
    Project(auth): Project,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let client = find(&state, &auth.project_id, &client_id).await?;
    if client.from_config {
        return Err(ApiError::invalid(
            "client_id",
            "invalid_parameter",
            "this client comes from the configuration file; remove it there",
        ));
    }
    state
        .api
        .store
        .delete_oauth_client(&auth.project_id, &client_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
