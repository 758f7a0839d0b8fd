//! SIP endpoints nested under a subscriber (`…/subscribers/{id}/sip_endpoints`).

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::keyset::{Bind, QueryParts, SortOrder, finish_page};
use crate::sip_accounts::SipDigest;
use crate::{Page, Result, Store, StoreError};
use weft_core::Cursor;
use weft_core::time::now_ms;

/// A subscriber's SIP endpoint; the password is stored hashed and never returned.
#[derive(Debug, Clone)]
pub struct SubscriberSipEndpoint {
    pub id: String,
    pub subscriber_id: String,
    pub username: String,
    /// `caller_id`, `send_as`, `ciphers`, `codecs`, `encryption`.
    pub body: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An endpoint's stored secrets, set together: the argon2 hash of its password and the digest
/// HA1 values of the same password for its username.
#[derive(Debug, Clone)]
pub struct SipSecrets {
    /// The argon2 PHC string of the password.
    pub password_hash: String,
    /// The digest HA1 values.
    pub digest: SipDigest,
}

const COLUMNS: &str = "id, subscriber_id, username, body, created_at, updated_at";

fn endpoint_from_row(row: &AnyRow) -> Result<SubscriberSipEndpoint> {
    let body: String = row.try_get("body")?;
    Ok(SubscriberSipEndpoint {
        id: row.try_get("id")?,
        subscriber_id: row.try_get("subscriber_id")?,
        username: row.try_get("username")?,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates a SIP endpoint for a subscriber resource.
    pub async fn create_sip_endpoint(
        &self,
        project_id: &str,
        subscriber_id: &str,
        username: &str,
        secrets: &SipSecrets,
        body: Value,
    ) -> Result<SubscriberSipEndpoint> {
        let now = now_ms();
        let endpoint = SubscriberSipEndpoint {
            id: crate::new_id(),
            subscriber_id: subscriber_id.to_owned(),
            username: username.to_owned(),
            body,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO subscriber_sip_endpoints (id, project_id, subscriber_id, username, password_hash, \
             digest_realm, ha1_md5, ha1_sha256, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&endpoint.id)
        .bind(project_id)
        .bind(subscriber_id)
        .bind(username)
        .bind(&secrets.password_hash)
        .bind(&secrets.digest.realm)
        .bind(secrets.digest.md5.clone())
        .bind(secrets.digest.sha256.clone())
        .bind(endpoint.body.to_string())
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_as(e, "username"))?;
        Ok(endpoint)
    }

    /// A page of a subscriber's SIP endpoints.
    pub async fn list_sip_endpoints(
        &self,
        subscriber_id: &str,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Page<SubscriberSipEndpoint>> {
        let mut q = QueryParts::new(&format!(
            "SELECT {COLUMNS} FROM subscriber_sip_endpoints WHERE 1 = 1"
        ));
        q.and("subscriber_id = $?", Bind::Text(subscriber_id.to_owned()));
        q.page("created_at", true, SortOrder::Asc, after, limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(rows, limit, |e| {
            (e.created_at.to_string(), e.id.clone())
        }))
    }

    /// One of a subscriber's SIP endpoints.
    pub async fn sip_endpoint(
        &self,
        subscriber_id: &str,
        id: &str,
    ) -> Result<SubscriberSipEndpoint> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriber_sip_endpoints WHERE subscriber_id = $1 AND id = $2"
        ))
        .bind(subscriber_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        endpoint_from_row(&row)
    }

    /// Replaces an endpoint's fields, and its secrets when given. The caller gives new secrets
    /// with a new username: the stored HA1 values are computed with the username.
    pub async fn update_sip_endpoint(
        &self,
        subscriber_id: &str,
        id: &str,
        username: &str,
        secrets: Option<&SipSecrets>,
        body: Value,
    ) -> Result<SubscriberSipEndpoint> {
        let now = now_ms();
        let done = match secrets {
            Some(secrets) => sqlx::query(
                "UPDATE subscriber_sip_endpoints SET username = $1, body = $2, updated_at = $3, \
                 password_hash = $4, digest_realm = $5, ha1_md5 = $6, ha1_sha256 = $7 \
                 WHERE subscriber_id = $8 AND id = $9",
            )
            .bind(username)
            .bind(body.to_string())
            .bind(now)
            .bind(&secrets.password_hash)
            .bind(&secrets.digest.realm)
            .bind(secrets.digest.md5.clone())
            .bind(secrets.digest.sha256.clone())
            .bind(subscriber_id)
            .bind(id)
            .execute(&self.pool)
            .await,
            None => {
                sqlx::query(
                    "UPDATE subscriber_sip_endpoints SET username = $1, body = $2, updated_at = $3 \
                     WHERE subscriber_id = $4 AND id = $5",
                )
                .bind(username)
                .bind(body.to_string())
                .bind(now)
                .bind(subscriber_id)
                .bind(id)
                .execute(&self.pool)
                .await
            }
        }
        .map_err(|e| StoreError::conflict_as(e, "username"))?;
        StoreError::found(done.rows_affected())?;
        self.sip_endpoint(subscriber_id, id).await
    }

    /// Deletes one of a subscriber's SIP endpoints with its registration bindings.
    pub async fn delete_sip_endpoint(&self, subscriber_id: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "DELETE FROM subscriber_sip_endpoints WHERE subscriber_id = $1 AND id = $2",
        )
        .bind(subscriber_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        StoreError::found(done.rows_affected())?;
        sqlx::query("DELETE FROM sip_bindings WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
