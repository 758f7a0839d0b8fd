//! Token signing keys (private keys as PKCS#8, base64).

use sqlx::Row;

use crate::{Result, Store};
use weft_core::time::now_ms;

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub id: String,
    pub algorithm: String,
    pub private_pkcs8: String,
}

impl Store {
    /// The newest signing key of an algorithm, if one exists.
    pub async fn signing_key(&self, algorithm: &str) -> Result<Option<SigningKey>> {
        let row = sqlx::query(
            "SELECT id, algorithm, private_pkcs8 FROM signing_keys WHERE algorithm = $1 ORDER BY created_at DESC, id LIMIT 1",
        )
        .bind(algorithm)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SigningKey {
                id: r.try_get("id")?,
                algorithm: r.try_get("algorithm")?,
                private_pkcs8: r.try_get("private_pkcs8")?,
            })
        })
        .transpose()
    }

    /// Stores a signing key.
    pub async fn add_signing_key(&self, key: &SigningKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (id, algorithm, private_pkcs8, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.id)
        .bind(&key.algorithm)
        .bind(&key.private_pkcs8)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
