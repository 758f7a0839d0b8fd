//! First-start set-up: the first project with its API token, and the token signing key.

use anyhow::{Context, Result};
use weft_auth::Es256Key;
use weft_auth::secret::{hash_secret, new_secret};
use weft_store::Store;
use weft_store::keys::SigningKey;

use crate::config::Config;

/// Project credentials, shown once.
#[derive(Debug, Clone)]
pub struct ProjectCredentials {
    pub project_id: String,
    pub api_token: String,
}

/// Creates a project with a fresh (or the given) id and API token.
pub async fn create_project(
    store: &Store,
    name: &str,
    project_id: Option<String>,
    api_token: Option<String>,
) -> Result<ProjectCredentials> {
    let project_id = project_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let api_token = api_token.unwrap_or_else(|| new_secret("PT"));
    store
        .create_project(&project_id, name)
        .await
        .context("creating the project")?;
    add_api_token(store, &project_id, &api_token).await?;
    Ok(ProjectCredentials {
        project_id,
        api_token,
    })
}

/// Stores an API token (hashed) for a project.
pub async fn add_api_token(store: &Store, project_id: &str, api_token: &str) -> Result<()> {
    store
        .add_api_token(project_id, "default", &hash_secret(api_token))
        .await
        .context("storing the API token")?;
    Ok(())
}

/// On first start, creates the bootstrap project and returns its credentials (to show once).
pub async fn first_project(store: &Store, config: &Config) -> Result<Option<ProjectCredentials>> {
    if store.count_projects().await? > 0 {
        return Ok(None);
    }
    let credentials = create_project(
        store,
        "default",
        config.bootstrap.project_id.clone(),
        config.bootstrap.api_token.clone(),
    )
    .await?;
    Ok(Some(credentials))
}

/// The token signing key, generated and stored on first start.
pub async fn signing_key(store: &Store) -> Result<Es256Key> {
    if let Some(stored) = store.signing_key("ES256").await? {
        return Es256Key::from_pkcs8(&stored.id, &stored.private_pkcs8)
            .map_err(|e| anyhow::anyhow!("loading the signing key: {e}"));
    }
    let kid = uuid::Uuid::new_v4().simple().to_string();
    let (key, pkcs8) =
        Es256Key::generate(&kid).map_err(|e| anyhow::anyhow!("generating a signing key: {e}"))?;
    store
        .add_signing_key(&SigningKey {
            id: kid,
            algorithm: "ES256".into(),
            private_pkcs8: pkcs8,
        })
        .await?;
    Ok(key)
}
