//! Projects and their API tokens (stored hashed).

use sqlx::Row;

use crate::{Result, Store, StoreError};
use weft_core::time::now_ms;

/// A project.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

impl Store {
    /// Creates a project with the given id.
    pub async fn create_project(&self, id: &str, name: &str) -> Result<Project> {
        let created_at = now_ms();
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::conflict_as(e, "project_id"))?;
        Ok(Project {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at,
        })
    }

    /// How many projects exist.
    pub async fn count_projects(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM projects")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Whether a project exists.
    pub async fn project_exists(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Stores an API token's hash for a project.
    pub async fn add_api_token(
        &self,
        project_id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<String> {
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, project_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(project_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_as(e, "api_token"))?;
        Ok(id)
    }

    /// The project owning the API token with this hash, if any.
    pub async fn project_of_api_token(&self, token_hash: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT project_id FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("project_id"))
            .transpose()?)
    }
}
