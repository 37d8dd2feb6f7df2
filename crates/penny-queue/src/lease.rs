//! The cross-tenant side of a worker: claiming jobs under a lease, renewing leases, taking
//! back jobs of dead workers and retention. Each is one call of a narrow definer function
//! (migration 0004); everything tenant-owned after the claim runs under the job's tenant.
//!
//! These transactions commit without waiting for the WAL flush (`synchronous_commit =
//! off`): losing one in a crash only hands a job back to the queue, which a crash does
//! anyway. A completion is durable, and flushing it flushes every earlier claim with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use penny_store::TenantId;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::job::{duration_from_ms, Job, JobId, JobStatus};
use crate::QueueError;

/// A claimed job and the token that proves this worker holds its current attempt.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub job: Job,
    pub token: Uuid,
}

/// What one claim call gave: jobs, or (when the rate limiter held jobs back) a wait.
pub(crate) struct Claim {
    pub jobs: Vec<Claimed>,
    pub throttled_for: Option<Duration>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Option<Uuid>,
    tenant_id: Option<Uuid>,
    name: Option<String>,
    payload: Option<Value>,
    attempts: Option<i32>,
    max_attempts: Option<i32>,
    timeout_ms: Option<i32>,
    run_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
    conversation_id: Option<Uuid>,
    created_by: Option<Uuid>,
    created_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    lease_token: Option<Uuid>,
    retry_after_ms: Option<i32>,
}

/// A transaction whose commit does not wait for the disk (see the module's note).
pub(crate) async fn relaxed(pool: &PgPool) -> Result<Transaction<'static, Postgres>, QueueError> {
    Ok(pool
        .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
        .await?)
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1)
}

pub(crate) async fn claim(
    pool: &PgPool,
    queue: &str,
    limit: usize,
    lease: Duration,
    rate_per_sec: Option<f64>,
    per_tenant: Option<usize>,
) -> Result<Claim, QueueError> {
    let mut tx = relaxed(pool).await?;
    let rows: Vec<ClaimRow> = sqlx::query_as("SELECT * FROM penny_queue_claim($1, $2, $3, $4, $5)")
        .bind(queue)
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .bind(millis_i32(lease))
        .bind(rate_per_sec)
        .bind(per_tenant.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut claim = Claim {
        jobs: Vec::with_capacity(rows.len()),
        throttled_for: None,
    };
    for r in rows {
        let (Some(id), Some(tenant), Some(token)) = (r.id, r.tenant_id, r.lease_token) else {
            let ms = u64::try_from(r.retry_after_ms.unwrap_or(1))
                .unwrap_or(1)
                .max(1);
            claim.throttled_for = Some(Duration::from_millis(ms));
            continue;
        };
        let missing = || QueueError::Corrupt(format!("claimed job {id} lacks a column"));
        let job = Job {
            id: JobId(id),
            tenant_id: TenantId(tenant),
            queue: queue.to_owned(),
            name: r.name.ok_or_else(missing)?,
            payload: r.payload.unwrap_or(Value::Null),
            status: JobStatus::Active,
            progress: None,
            result: None,
            error: None,
            attempts: r.attempts.ok_or_else(missing)?,
            max_attempts: r.max_attempts.ok_or_else(missing)?,
            timeout: duration_from_ms(r.timeout_ms.ok_or_else(missing)?),
            run_at: r.run_at.ok_or_else(missing)?,
            idempotency_key: r.idempotency_key,
            conversation_id: r.conversation_id,
            created_by: r.created_by,
            created_at: r.created_at.ok_or_else(missing)?,
            started_at: r.started_at,
            finished_at: None,
        };
        claim.jobs.push(Claimed { job, token });
    }
    Ok(claim)
}

/// Renews the leases of `held` (job id, token); returns the tokens still held.
pub(crate) async fn heartbeat(
    pool: &PgPool,
    held: &[(Uuid, Uuid)],
    lease: Duration,
) -> Result<Vec<Uuid>, QueueError> {
    let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = held.iter().copied().unzip();
    let mut tx = relaxed(pool).await?;
    let kept =
        sqlx::query_scalar("SELECT penny_queue_heartbeat FROM penny_queue_heartbeat($1, $2, $3)")
            .bind(ids)
            .bind(tokens)
            .bind(millis_i32(lease))
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(kept)
}

/// Takes back jobs of `queue` whose lease expired; returns how many.
pub(crate) async fn reap(pool: &PgPool, queue: &str) -> Result<i32, QueueError> {
    let mut tx = relaxed(pool).await?;
    let n = sqlx::query_scalar("SELECT penny_queue_reap($1)")
        .bind(queue)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Retention: keeps the newest `keep_completed` completed and `keep_failed` failed jobs of
/// `queue` per tenant and deletes the rest; returns how many it deleted. Workers run this
/// on their poll tick; it is public for a maintenance command.
pub async fn prune(
    pool: &PgPool,
    queue: &str,
    keep_completed: i32,
    keep_failed: i32,
) -> Result<u64, QueueError> {
    let n: i64 = sqlx::query_scalar("SELECT penny_queue_prune($1, $2, $3)")
        .bind(queue)
        .bind(keep_completed.max(0))
        .bind(keep_failed.max(0))
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
