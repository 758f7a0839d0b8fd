//! Weft's storage: one sqlx pool over SQLite (the embedded default) or PostgreSQL.
//!
//! Both back ends run the same portable migrations and the same queries (`$N` placeholders,
//! text ids, integer millisecond times), chosen at run time by the database URL.

mod error;
mod keyset;
mod pool;

pub mod addresses;
pub mod devices;
pub mod keys;
pub mod oauth;
pub mod projects;
pub mod recordings;
pub mod resources;
pub mod sip_accounts;
pub mod sip_bindings;
pub mod sip_endpoints;
pub mod tokens;

pub use error::StoreError;
pub use keyset::{Page, SortOrder};
pub use pool::Store;

/// The result type of every store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A new random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
