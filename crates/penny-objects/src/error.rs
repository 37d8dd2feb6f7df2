//! The one error type of object storage.

/// Anything that can go wrong storing or reading an object. [`ObjectsError::NotFound`] is
/// the only variant a caller usually handles (a 404); the rest are server faults.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("object {bucket}/{key} not found")]
    NotFound { bucket: String, key: String },

    /// A kind, id or prefix that is not a safe key segment. Ids come from the server, so
    /// this is a bug in the caller, not bad user input.
    #[error("invalid object key: {0}")]
    InvalidKey(String),

    #[error("object storage is misconfigured ({location}): {reason}")]
    Config { location: String, reason: String },

    /// The body of a [`crate::Objects::put_stream`] failed; nothing was stored.
    #[error("reading the object body failed: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),

    #[error("object storage failed on bucket {bucket} at {location}: {source}")]
    Storage {
        bucket: String,
        location: String,
        #[source]
        source: object_store::Error,
    },
}

impl ObjectsError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
