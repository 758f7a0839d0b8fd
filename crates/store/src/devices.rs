//! Push-notification devices registered by subscribers.

use crate::{Result, Store, StoreError};
use weft_core::time::now_ms;

impl Store {
    /// Registers a device for a subscriber resource; returns its id.
    pub async fn add_device(
        &self,
        subscriber_id: &str,
        device_type: &str,
        device_token: &str,
    ) -> Result<String> {
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO devices (id, subscriber_id, device_type, device_token, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(subscriber_id)
        .bind(device_type)
        .bind(device_token)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Removes a subscriber's device.
    pub async fn delete_device(&self, subscriber_id: &str, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM devices WHERE id = $1 AND subscriber_id = $2")
            .bind(id)
            .bind(subscriber_id)
            .execute(&self.pool)
            .await?;
        StoreError::found(done.rows_affected())?;
        Ok(())
    }
}
