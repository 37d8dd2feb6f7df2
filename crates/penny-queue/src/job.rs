//! Jobs as the API sees them, and the tenant-scoped operations: enqueue in the caller's
//! transaction, read one job, count a queue's jobs by state.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use penny_store::{TenantId, TenantTx};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::QueueError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct JobId(pub Uuid);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(JobId)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Waiting,
    Active,
    Completed,
    Failed,
    Delayed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Waiting,
        JobStatus::Active,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Delayed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Active => "active",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Delayed => "delayed",
        }
    }

    /// Completed or failed: the job will not run again.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }

    pub(crate) fn parse(s: &str) -> Result<Self, QueueError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| QueueError::Corrupt(format!("unknown job status {s:?}")))
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job, as stored. Serialises with camelCase fields and `timeoutMs`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub queue: String,
    pub name: String,
    pub payload: Value,
    pub status: JobStatus,
    pub progress: Option<Value>,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// Attempts started so far, including the running one.
    pub attempts: i32,
    pub max_attempts: i32,
    #[serde(rename = "timeoutMs", serialize_with = "millis")]
    pub timeout: Duration,
    pub run_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    pub conversation_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn duration_from_ms(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A job to enqueue. Start from [`NewJob::new`] and override fields as needed.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: String,
    /// What to do, e.g. the tool's name.
    pub name: String,
    pub payload: Value,
    /// Attempts before the job fails for good (default 3).
    pub max_attempts: i32,
    /// Limit of one attempt (default 60 s).
    pub timeout: Duration,
    /// Run no earlier than this from now; the job is `delayed` until then.
    pub delay: Option<Duration>,
    /// A second enqueue with the same key, by the same creator, for the same job name in
    /// the same tenant and queue returns the first job's id (while that job is retained);
    /// anyone else's use of the key makes a job of its own.
    pub idempotency_key: Option<String>,
    pub conversation_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

impl NewJob {
    pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    pub fn new(queue: impl Into<String>, name: impl Into<String>, payload: Value) -> Self {
        Self {
            queue: queue.into(),
            name: name.into(),
            payload,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            timeout: Self::DEFAULT_TIMEOUT,
            delay: None,
            idempotency_key: None,
            conversation_id: None,
            created_by: None,
        }
    }

    fn check(&self) -> Result<(i32, i64), QueueError> {
        let valid_queue = !self.queue.is_empty()
            && self.queue.len() <= 100
            && self.queue.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'.' | b'_' | b':' | b'-'))
            });
        if !valid_queue {
            return Err(QueueError::Invalid(format!(
                "queue name {:?}: 1-100 of A-Z a-z 0-9 . _ : -",
                self.queue
            )));
        }
        if self.name.is_empty() || self.name.chars().count() > 200 {
            return Err(QueueError::Invalid("name: 1-200 characters".into()));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(QueueError::Invalid("max_attempts: 1-100".into()));
        }
        let timeout_ms = i32::try_from(self.timeout.as_millis())
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| QueueError::Invalid("timeout: 1 ms to 24 days".into()))?;
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.chars().count() > 200 {
                return Err(QueueError::Invalid(
                    "idempotency_key: 1-200 characters".into(),
                ));
            }
        }
        let delay_ms = match self.delay {
            Some(d) => i64::try_from(d.as_millis())
                .map_err(|_| QueueError::Invalid("delay is too long".into()))?,
            None => 0,
        };
        Ok((timeout_ms, delay_ms))
    }
}

/// Enqueues `job` in the caller's tenant transaction: the job exists, and workers are
/// woken, only if that transaction commits. With an idempotency key this creator already
/// used for this job name in this tenant and queue, returns the existing job's id and
/// enqueues nothing.
pub async fn enqueue(tx: &mut TenantTx, job: NewJob) -> Result<JobId, QueueError> {
    let (timeout_ms, delay_ms) = job.check()?;
    // `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same key to commit or
    // roll back, so the lookup below then sees the winner.
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO jobs (tenant_id, queue, name, payload, status, max_attempts, timeout_ms,
                           run_at, idempotency_key, conversation_id, created_by)
         VALUES (penny_current_tenant(), $1, $2, $3,
                 CASE WHEN $4 > 0 THEN 'delayed' ELSE 'waiting' END, $5, $6,
                 now() + $4 * interval '1 millisecond', $7, $8, $9)
         ON CONFLICT (tenant_id, queue, created_by, name, idempotency_key)
           WHERE idempotency_key IS NOT NULL
         DO NOTHING
         RETURNING id",
    )
    .bind(&job.queue)
    .bind(&job.name)
    .bind(&job.payload)
    .bind(delay_ms)
    .bind(job.max_attempts)
    .bind(timeout_ms)
    .bind(&job.idempotency_key)
    .bind(job.conversation_id)
    .bind(job.created_by)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = inserted {
        return Ok(JobId(id));
    }
    let existing: Uuid = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE queue = $1 AND idempotency_key = $2
            AND tenant_id = penny_current_tenant()
            AND created_by IS NOT DISTINCT FROM $3 AND name = $4",
    )
    .bind(&job.queue)
    .bind(&job.idempotency_key)
    .bind(job.created_by)
    .bind(&job.name)
    .fetch_one(&mut **tx)
    .await?;
    Ok(JobId(existing))
}

/// The columns of [`Job`]; a `delayed` job whose time has come reads as `waiting`.
pub(crate) const JOB_COLUMNS: &str = "id, tenant_id, queue, name, payload,
    CASE WHEN status = 'delayed' AND run_at <= now() THEN 'waiting' ELSE status END AS status,
    progress, result, error, attempts, max_attempts, timeout_ms, run_at, idempotency_key,
    conversation_id, created_by, created_at, started_at, finished_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    queue: String,
    name: String,
    payload: Value,
    status: String,
    progress: Option<Value>,
    result: Option<Value>,
    error: Option<String>,
    attempts: i32,
    max_attempts: i32,
    timeout_ms: i32,
    run_at: DateTime<Utc>,
    idempotency_key: Option<String>,
    conversation_id: Option<Uuid>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for Job {
    type Error = QueueError;
    fn try_from(r: JobRow) -> Result<Self, QueueError> {
        Ok(Job {
            id: JobId(r.id),
            tenant_id: TenantId(r.tenant_id),
            queue: r.queue,
            name: r.name,
            payload: r.payload,
            status: JobStatus::parse(&r.status)?,
            progress: r.progress,
            result: r.result,
            error: r.error,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            timeout: duration_from_ms(r.timeout_ms),
            run_at: r.run_at,
            idempotency_key: r.idempotency_key,
            conversation_id: r.conversation_id,
            created_by: r.created_by,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// Reads one job of the transaction's tenant.
pub async fn get(tx: &mut TenantTx, id: JobId) -> Result<Option<Job>, QueueError> {
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?;
    row.map(Job::try_from).transpose()
}

/// Cancels a job of the transaction's tenant that has not ended: it fails with `cancelled`
/// and its lease is void, so a worker running it loses the lease at its next heartbeat
/// (which stops the attempt) and cannot complete it. `false` when it had already ended.
pub async fn cancel(tx: &mut TenantTx, id: JobId) -> Result<bool, QueueError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = 'cancelled', lease_token = NULL, \
         lease_expires_at = NULL, finished_at = now() \
         WHERE id = $1 AND status IN ('waiting', 'delayed', 'active')",
    )
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many of a queue's jobs are in each state (the tenant's own jobs only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCounts {
    pub waiting: i64,
    pub active: i64,
    pub completed: i64,
    pub failed: i64,
    pub delayed: i64,
}

pub async fn counts(tx: &mut TenantTx, queue: &str) -> Result<JobCounts, QueueError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CASE WHEN status = 'delayed' AND run_at <= now() THEN 'waiting' ELSE status END,
                count(*)
           FROM jobs WHERE queue = $1 AND tenant_id = penny_current_tenant()
          GROUP BY 1",
    )
    .bind(queue)
    .fetch_all(&mut **tx)
    .await?;
    let mut counts = JobCounts::default();
    for (status, n) in rows {
        let slot = match JobStatus::parse(&status)? {
            JobStatus::Waiting => &mut counts.waiting,
            JobStatus::Active => &mut counts.active,
            JobStatus::Completed => &mut counts.completed,
            JobStatus::Failed => &mut counts.failed,
            JobStatus::Delayed => &mut counts.delayed,
        };
        *slot += n;
    }
    Ok(counts)
}

/// The tenant's jobs that failed for good, newest first (every queue), at most `limit`.
pub async fn recent_failed(tx: &mut TenantTx, limit: i64) -> Result<Vec<Job>, QueueError> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs
          WHERE status = 'failed' AND tenant_id = penny_current_tenant()
          ORDER BY finished_at DESC NULLS LAST, id LIMIT $1"
    ))
    .bind(limit.clamp(1, 1000))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(Job::try_from).collect()
}
