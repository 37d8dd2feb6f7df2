//! The queue's one error type; callers map it to their own boundary (HTTP, worker logs).

use penny_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A job that breaks the queue's rules (empty name, no attempts, zero timeout...).
    #[error("invalid job: {0}")]
    Invalid(String),
    #[error("job not found")]
    NotFound,
    /// Another worker holds the job now (its lease expired and it was claimed again), so
    /// this worker's writes are refused.
    #[error("the job's lease was lost to another worker")]
    LeaseLost,
    /// A handler's commit hook refused to write the job's effects.
    #[error("commit hook failed: {0}")]
    Commit(String),
    /// A row the queue cannot read back (an unknown status, say).
    #[error("unreadable job row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
