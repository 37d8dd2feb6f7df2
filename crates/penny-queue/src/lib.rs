//! PENNY's durable job queue on PostgreSQL.
//!
//! A job is a row in `jobs` (migration 0004), enqueued in the caller's tenant transaction
//! so it exists only if the row that asks for it does; the insert's NOTIFY wakes workers
//! at commit. A [`Worker`] claims jobs of every tenant with `FOR UPDATE SKIP LOCKED` under
//! a lease it renews while the job runs; a global token bucket per queue limits the rate.
//! Completion is fenced by the lease token: only the current attempt can finish the job,
//! and the handler's own database effects commit in that same transaction, so a job whose
//! worker died runs again but takes effect once. A [`Waiter`] lets callers await a job's end.

mod complete;
mod config;
mod error;
mod job;
mod lease;
mod waiter;
mod worker;

pub mod bench;

use penny_store::{TenantId, TenantTx};
use sqlx::PgPool;

pub use config::QueueConfig;
pub use error::QueueError;
pub use job::{
    cancel, counts, enqueue, get, recent_failed, Job, JobCounts, JobId, JobStatus, NewJob,
};
pub use lease::prune;
pub use waiter::{Waiter, DONE_CHANNEL};
pub use worker::{JobContext, JobFailure, JobHandler, Worker, READY_CHANNEL};

/// A transaction on `pool` scoped to `tenant`, in one round trip (as `Store::tenant`).
pub(crate) async fn tenant_tx(pool: &PgPool, tenant: TenantId) -> Result<TenantTx, QueueError> {
    // The tenant id is a typed UUID, so inlining it cannot inject SQL.
    let begin = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
        tenant.0
    );
    Ok(pool.begin_with(begin).await?)
}
