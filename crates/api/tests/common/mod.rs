//! The REST API over a fresh SQLite store, for the API's integration tests.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use weft_api::{ApiConfig, ApiState};
use weft_auth::{Es256Key, TokenIssuer};
use weft_store::Store;

/// A temporary directory (`prefix-<uuid>`) with a store in it, one project per `(id, API token)`
/// of `projects`, and the router over it with `config`; also the directory.
pub async fn api(
    prefix: &str,
    projects: &[(&str, &str)],
    config: impl FnOnce(&PathBuf) -> ApiConfig,
) -> (Router, Store, PathBuf) {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("weft.db").display());
    let store = Store::connect(&url).await.unwrap();
    for (project, token) in projects {
        store.create_project(project, project).await.unwrap();
        store
            .add_api_token(project, "test", &weft_auth::secret::hash_secret(token))
            .await
            .unwrap();
    }
    let (key, _) = Es256Key::generate("k1").unwrap();
    let state = ApiState {
        store: store.clone(),
        issuer: Arc::new(TokenIssuer::new(key, "relay.example.test".into())),
        config: Arc::new(config(&dir)),
    };
    (weft_api::router(state), store, dir)
}
