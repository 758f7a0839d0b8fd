//! OAuth2 subscriber login: registered public clients, single-use authorization codes (stored
//! hashed) and the client each OAuth refresh token belongs to.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};
use weft_core::time::now_ms;

/// The most clients one listing returns.
pub const MAX_CLIENTS_LISTED: i64 = 1000;

/// A registered public OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientRow {
    pub client_id: String,
    pub project_id: String,
    pub name: String,
    /// Exact redirect URIs the client may use.
    pub redirect_uris: Vec<String>,
    /// Browser origins allowed to call the token endpoint (CORS).
    pub allowed_origins: Vec<String>,
    pub created_at: i64,
}

/// An authorization code to store: its hash and what it grants.
#[derive(Debug, Clone)]
pub struct NewAuthCode {
    pub code_hash: String,
    pub code: AuthCodeRow,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCodeRow {
    pub client_id: String,
    pub project_id: String,
    pub subscriber_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// When the subscriber logged in, Unix seconds.
    pub auth_time: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// What presenting an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
    Fresh(AuthCodeRow),
    /// The code was spent before. Carries what its first exchange issued, so it can be revoked.
    Reused {
        project_id: String,
        refresh_hash: Option<String>,
        access_jti: Option<String>,
        access_exp: Option<i64>,
    },
    /// No such code.
    Unknown,
}

/// The client and login an OAuth refresh token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRefreshRow {
    pub client_id: String,
    pub project_id: String,
    pub subscriber_id: String,
    pub auth_time: i64,
}

fn strings(row: &AnyRow, column: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

fn client_from_row(row: &AnyRow) -> Result<OAuthClientRow> {
    Ok(OAuthClientRow {
        client_id: row.try_get("client_id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        redirect_uris: strings(row, "redirect_uris")?,
        allowed_origins: strings(row, "allowed_origins")?,
        created_at: row.try_get("created_at")?,
    })
}

const CLIENT_COLUMNS: &str =
    "client_id, project_id, name, redirect_uris, allowed_origins, created_at";

impl Store {
    /// Registers a client; a taken `client_id` is `Conflict("client_id")`.
    pub async fn create_oauth_client(&self, client: &OAuthClientRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO oauth_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&client.client_id)
        .bind(&client.project_id)
        .bind(&client.name)
        .bind(serde_json::Value::from(client.redirect_uris.clone()).to_string())
        .bind(serde_json::Value::from(client.allowed_origins.clone()).to_string())
        .bind(client.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_as(e, "client_id"))?;
        Ok(())
    }

    /// A client by id, in any project.
    pub async fn oauth_client(&self, client_id: &str) -> Result<Option<OAuthClientRow>> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// A project's clients, oldest first (at most [`MAX_CLIENTS_LISTED`]).
    pub async fn list_oauth_clients(&self, project_id: &str) -> Result<Vec<OAuthClientRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE project_id = $1 \
             ORDER BY created_at, client_id LIMIT $2"
        ))
        .bind(project_id)
        .bind(MAX_CLIENTS_LISTED)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Whether any stored client allows this browser origin.
    pub async fn oauth_origin_registered(&self, origin: &str) -> Result<bool> {
        let rows = sqlx::query("SELECT allowed_origins FROM oauth_clients")
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            if strings(row, "allowed_origins")?.iter().any(|o| o == origin) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes a project's client; `NotFound` when it has none by that id.
    pub async fn delete_oauth_client(&self, project_id: &str, client_id: &str) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM oauth_clients WHERE project_id = $1 AND client_id = $2")
                .bind(project_id)
                .bind(client_id)
                .execute(&self.pool)
                .await?;
        StoreError::found(done.rows_affected())?;
        Ok(())
    }

    /// The oldest project (the bootstrap project), if any.
    pub async fn first_project_id(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM projects ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("id")).transpose()?)
    }

    /// Stores a new authorization code and forgets codes that expired over an hour ago.
    pub async fn add_auth_code(&self, new: &NewAuthCode) -> Result<()> {
        let code = &new.code;
        let now = now_ms();
        sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(now - 3_600_000)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, project_id, subscriber_id, redirect_uri, \
             code_challenge, scope, nonce, auth_time, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&new.code_hash)
        .bind(&code.client_id)
        .bind(&code.project_id)
        .bind(&code.subscriber_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(code.auth_time)
        .bind(code.expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Spends an authorization code: the first call gets it, every later call learns it was reused.
    pub async fn redeem_auth_code(&self, code_hash: &str) -> Result<CodeRedemption> {
        let spent = sqlx::query(
            "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now_ms())
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT client_id, project_id, subscriber_id, redirect_uri, code_challenge, scope, nonce, \
             auth_time, expires_at, refresh_hash, access_jti, access_exp FROM oauth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(CodeRedemption::Unknown);
        };
        if spent.rows_affected() == 1 {
            return Ok(CodeRedemption::Fresh(AuthCodeRow {
                client_id: row.try_get("client_id")?,
                project_id: row.try_get("project_id")?,
                subscriber_id: row.try_get("subscriber_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
                scope: row.try_get("scope")?,
                nonce: row.try_get("nonce")?,
                auth_time: row.try_get("auth_time")?,
                expires_at: row.try_get("expires_at")?,
            }));
        }
        Ok(CodeRedemption::Reused {
            project_id: row.try_get("project_id")?,
            refresh_hash: row.try_get("refresh_hash")?,
            access_jti: row.try_get("access_jti")?,
            access_exp: row.try_get("access_exp")?,
        })
    }

    /// Remembers what a code's exchange issued, so a later reuse of the code can revoke it.
    pub async fn record_code_tokens(
        &self,
        code_hash: &str,
        refresh_hash: &str,
        access_jti: &str,
        access_exp: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE oauth_codes SET refresh_hash = $1, access_jti = $2, access_exp = $3 WHERE code_hash = $4",
        )
        .bind(refresh_hash)
        .bind(access_jti)
        .bind(access_exp)
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records which client and login an OAuth refresh token belongs to; forgets expired ones.
    pub async fn add_oauth_refresh(
        &self,
        token_hash: &str,
        row: &OAuthRefreshRow,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM oauth_refresh_tokens WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_refresh_tokens (token_hash, client_id, project_id, subscriber_id, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(&row.client_id)
        .bind(&row.project_id)
        .bind(&row.subscriber_id)
        .bind(row.auth_time)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The client and login of an OAuth refresh token (by hash), if it was issued by OAuth.
    pub async fn oauth_refresh(&self, token_hash: &str) -> Result<Option<OAuthRefreshRow>> {
        let row = sqlx::query(
            "SELECT client_id, project_id, subscriber_id, auth_time FROM oauth_refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OAuthRefreshRow {
                client_id: r.try_get("client_id")?,
                project_id: r.try_get("project_id")?,
                subscriber_id: r.try_get("subscriber_id")?,
                auth_time: r.try_get("auth_time")?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> Store {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.create_project("p1", "one").await.unwrap();
        store
    }

    fn code(hash: &str) -> NewAuthCode {
        NewAuthCode {
            code_hash: hash.into(),
            code: AuthCodeRow {
                client_id: "web".into(),
                project_id: "p1".into(),
                subscriber_id: "s1".into(),
                redirect_uri: "http://localhost:3000".into(),
                code_challenge: "c".repeat(43),
                scope: "openid".into(),
                nonce: Some("n".into()),
                auth_time: 1,
                expires_at: now_ms() + 60_000,
            },
        }
    }

    #[tokio::test]
    async fn clients_round_trip_and_conflict() {
        let store = store().await;
        let client = OAuthClientRow {
            client_id: "web".into(),
            project_id: "p1".into(),
            name: "Web".into(),
            redirect_uris: vec!["http://localhost:3000".into()],
            allowed_origins: vec!["http://localhost:3000".into()],
            created_at: 5,
        };
        store.create_oauth_client(&client).await.unwrap();
        assert!(matches!(
            store.create_oauth_client(&client).await,
            Err(StoreError::Conflict("client_id"))
        ));
        assert_eq!(
            store.oauth_client("web").await.unwrap(),
            Some(client.clone())
        );
        assert_eq!(store.list_oauth_clients("p1").await.unwrap(), vec![client]);
        assert!(
            store
                .oauth_origin_registered("http://localhost:3000")
                .await
                .unwrap()
        );
        assert!(
            !store
                .oauth_origin_registered("http://evil.test")
                .await
                .unwrap()
        );
        assert!(matches!(
            store.delete_oauth_client("p2", "web").await,
            Err(StoreError::NotFound)
        ));
        store.delete_oauth_client("p1", "web").await.unwrap();
        assert_eq!(store.oauth_client("web").await.unwrap(), None);
        assert_eq!(
            store.first_project_id().await.unwrap().as_deref(),
            Some("p1")
        );
    }

    #[tokio::test]
    async fn codes_are_single_use() {
        let store = store().await;
        store.add_auth_code(&code("h1")).await.unwrap();
        assert!(matches!(
            store.redeem_auth_code("h1").await.unwrap(),
            CodeRedemption::Fresh(row) if row.nonce.as_deref() == Some("n")
        ));
        store
            .record_code_tokens("h1", "rt", "jti", 9)
            .await
            .unwrap();
        assert_eq!(
            store.redeem_auth_code("h1").await.unwrap(),
            CodeRedemption::Reused {
                project_id: "p1".into(),
                refresh_hash: Some("rt".into()),
                access_jti: Some("jti".into()),
                access_exp: Some(9),
            }
        );
        assert_eq!(
            store.redeem_auth_code("nope").await.unwrap(),
            CodeRedemption::Unknown
        );
    }

    #[tokio::test]
    async fn refresh_tokens_remember_their_client() {
        let store = store().await;
        let row = OAuthRefreshRow {
            client_id: "web".into(),
            project_id: "p1".into(),
            subscriber_id: "s1".into(),
            auth_time: 7,
        };
        store
            .add_oauth_refresh("rt1", &row, now_ms() + 1000)
            .await
            .unwrap();
        assert_eq!(store.oauth_refresh("rt1").await.unwrap(), Some(row));
        assert_eq!(store.oauth_refresh("rt2").await.unwrap(), None);
    }
}
