//! Refresh tokens (hashed, single-use, rotating in families) and revoked access-token ids.

use sqlx::Row;

use crate::{Result, Store};
use weft_core::time::now_ms;

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    /// Every token rotated from the same first token shares a family.
    pub family_id: String,
    pub project_id: String,
    /// What the token may be exchanged for (subject, scopes, …), as JSON.
    pub grant_json: String,
    pub expires_at: i64,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A live token, now used up; carries its family, project and grant.
    Valid {
        family_id: String,
        project_id: String,
        grant_json: String,
    },
    /// A token that was already used: its whole family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    /// Stores a refresh token.
    pub async fn add_refresh_token(&self, token: &NewRefreshToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, project_id, grant_json, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::new_id())
        .bind(&token.token_hash)
        .bind(&token.family_id)
        .bind(&token.project_id)
        .bind(&token.grant_json)
        .bind(token.expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses up a refresh token. Presenting a used one revokes its family (reuse detection).
    pub async fn consume_refresh_token(&self, token_hash: &str) -> Result<RefreshOutcome> {
        let now = now_ms();
        let used = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT family_id, project_id, grant_json, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let family_id: String = row.try_get("family_id")?;
        if used.rows_affected() == 1 {
            return Ok(RefreshOutcome::Valid {
                family_id,
                project_id: row.try_get("project_id")?,
                grant_json: row.try_get("grant_json")?,
            });
        }
        let was_used: Option<i64> = row.try_get("used_at")?;
        if was_used.is_some() {
            self.revoke_refresh_family(&family_id).await?;
            return Ok(RefreshOutcome::Reused);
        }
        Ok(RefreshOutcome::Invalid)
    }

    /// Revokes every refresh token of a family.
    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(family_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes the family of the refresh token with this hash (in this project).
    pub async fn revoke_refresh_token(&self, token_hash: &str, project_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $2 AND project_id = $3)",
        )
        .bind(now_ms())
        .bind(token_hash)
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks an access token id revoked until it would have expired anyway.
    pub async fn revoke_jti(&self, jti: &str, expires_at_ms: i64) -> Result<()> {
        let exists = self.is_jti_revoked(jti).await?;
        if !exists {
            sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)")
                .bind(jti)
                .bind(expires_at_ms)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Whether an access token id was revoked.
    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool> {
        let row = sqlx::query("SELECT jti FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Forgets expired refresh tokens and revocations; returns how many rows went.
    pub async fn purge_expired_tokens(&self) -> Result<u64> {
        let now = now_ms();
        let a = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let b = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
