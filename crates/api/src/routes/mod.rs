//! Route table.

mod addresses;
mod health;
mod recordings;
pub(crate) mod resources;
mod subscriber_self;
mod subscriber_sip_endpoints;
mod tokens;

use axum::Router;

use crate::ApiState;

/// Every REST route.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(health::routes())
        .merge(resources::routes())
        .merge(subscriber_sip_endpoints::routes())
        .merge(addresses::routes())
        .merge(recordings::routes())
        .merge(tokens::routes())
        .merge(subscriber_self::routes())
}

/// Runs a password hash off the async runtime (argon2 is slow on purpose).
pub(crate) async fn hash_password(password: String) -> Result<String, crate::ApiError> {
    tokio::task::spawn_blocking(move || weft_auth::password::hash_password(&password))
        .await
        .map_err(|_| crate::ApiError::Internal)
}

/// Checks a password off the async runtime.
pub(crate) async fn verify_password(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || weft_auth::password::verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}
