//! The store's one error type. Callers map these to their own boundary (HTTP, CLI).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the field that clashed.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("invalid value for {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("PostgreSQL extension `{0}` is not available")]
    MissingExtension(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// `NotFound` when a statement meant for one row touched none.
    pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
        if rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Maps a unique violation on `constraint` to `Conflict(field)`, leaving others as is.
    pub(crate) fn unique(err: sqlx::Error, field: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(field),
            _ => StoreError::Database(err),
        }
    }
}
