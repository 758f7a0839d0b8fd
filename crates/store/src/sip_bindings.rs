//! SIP registration bindings: where a registered account's calls ring, kept so a restart
//! keeps them. The SIP layer owns the binding's contents (`data`); the store keeps the keys it
//! needs to load, expire and delete bindings.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};
use weft_core::ResourceKind;

/// A stored registration binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipBindingRow {
    /// The binding's id.
    pub id: String,
    /// The account it belongs to: [`SipAccountRow::id`](crate::sip_accounts::SipAccountRow::id).
    pub account_id: String,
    /// The account's project.
    pub project_id: String,
    /// When it expires, in Unix milliseconds.
    pub expires_at: i64,
    /// The SIP layer's own JSON text of the binding; stored as given.
    pub data: String,
    /// When it was last saved, in Unix milliseconds.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, project_id, expires_at, data, updated_at";

fn binding_from_row(row: &AnyRow) -> Result<SipBindingRow> {
    Ok(SipBindingRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        project_id: row.try_get("project_id")?,
        expires_at: row.try_get("expires_at")?,
        data: row.try_get("data")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a binding, or replaces the one with its id. `NotFound` when its account (a SIP
    /// endpoint resource or a subscriber's SIP endpoint of that project) no longer exists, so a
    /// registration racing the endpoint's deletion leaves nothing behind.
    pub async fn save_sip_binding(&self, binding: &SipBindingRow) -> Result<()> {
        let done = sqlx::query(&format!(
            "INSERT INTO sip_bindings ({COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE \
             EXISTS (SELECT 1 FROM resources WHERE id = $7 AND project_id = $8 AND kind = $9) \
             OR EXISTS (SELECT 1 FROM subscriber_sip_endpoints WHERE id = $10 AND project_id = $11) \
             ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, \
             project_id = excluded.project_id, expires_at = excluded.expires_at, \
             data = excluded.data, updated_at = excluded.updated_at"
        ))
        .bind(&binding.id)
        .bind(&binding.account_id)
        .bind(&binding.project_id)
        .bind(binding.expires_at)
        .bind(&binding.data)
        .bind(binding.updated_at)
        .bind(&binding.account_id)
        .bind(&binding.project_id)
        .bind(ResourceKind::SipEndpoint.type_value())
        .bind(&binding.account_id)
        .bind(&binding.project_id)
        .execute(&self.pool)
        .await?;
        StoreError::found(done.rows_affected())
    }

    /// Deletes one binding; whether it existed.
    pub async fn delete_sip_binding(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sip_bindings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every binding of an account; how many there were.
    pub async fn delete_sip_bindings_of_account(&self, account_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sip_bindings WHERE account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every binding, expired or not, oldest save first (for loading at start).
    pub async fn sip_bindings(&self) -> Result<Vec<SipBindingRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sip_bindings ORDER BY updated_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(binding_from_row).collect()
    }

    /// Deletes the bindings that expired at or before `now_ms`; how many there were.
    pub async fn delete_expired_sip_bindings(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sip_bindings WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
