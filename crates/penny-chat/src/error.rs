//! The engine's one error type; the HTTP layer maps it to problem+json.

use penny_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("not found")]
    NotFound,
    #[error("no model named {0:?} is configured for this tenant")]
    UnknownModel(String),
    #[error("no model is configured for this tenant; an admin can add one under /api/v1/models")]
    NoModel,
    /// The tenant's policy does not let the caller's role use this model.
    #[error("your role may not use model {0:?}")]
    ModelForbidden(String),
    #[error("a generation is already running in this conversation")]
    Busy,
    /// The tenant has as many answers running as it may (`TENANT_MAX_RUNS`).
    #[error("your workspace has {max} answers running, the most allowed; try again when one ends")]
    TooManyRuns { max: usize },
    /// A collection picked for the message does not exist or the caller cannot read it.
    #[error("no collection {0} that you can read")]
    CollectionNotFound(uuid::Uuid),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("event bus unavailable: {0}")]
    Bus(String),
    #[error("job queue: {0}")]
    Queue(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ChatError::NotFound,
            StoreError::Conflict(_) => ChatError::Busy,
            StoreError::Invalid { field, message } => ChatError::Invalid { field, message },
            other => ChatError::Store(other),
        }
    }
}

impl From<sqlx::Error> for ChatError {
    fn from(e: sqlx::Error) -> Self {
        ChatError::Store(StoreError::from(e))
    }
}

impl From<penny_bus::BusError> for ChatError {
    fn from(e: penny_bus::BusError) -> Self {
        ChatError::Bus(e.to_string())
    }
}
