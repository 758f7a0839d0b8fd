//! Store errors.

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the field names which one.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A value the store refuses to keep; the field names which one.
    #[error("{0} is not valid")]
    Invalid(&'static str),
    /// The row asked for does not exist (or belongs to another project).
    #[error("not found")]
    NotFound,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// `NotFound` when a write touched no row (the row is missing or belongs to another project).
    pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
        if rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Maps a unique-constraint failure to `Conflict(field)`, leaving other errors as they are.
    pub(crate) fn conflict_as(err: sqlx::Error, field: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(field),
            _ => StoreError::Database(err),
        }
    }
}
