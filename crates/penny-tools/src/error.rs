//! The tools boundary's one error type; the API maps each variant to a problem code.

use penny_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("not found")]
    NotFound,
    #[error("tool {0} is disabled for this tenant")]
    Disabled(String),
    #[error("your role may not use tool {0}")]
    Forbidden(String),
    #[error("invalid value for {field}: {message}")]
    Invalid { field: String, message: String },
    /// A part the tool needs cannot run here (e.g. the sandbox); says what to fix.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] penny_queue::QueueError),
    #[error("object storage: {0}")]
    Objects(#[from] penny_objects::ObjectsError),
}

impl From<sqlx::Error> for ToolError {
    fn from(e: sqlx::Error) -> Self {
        ToolError::Store(StoreError::Database(e))
    }
}
