//! Runs: one generation each, detached from the request that started it. A run holds a
//! lease that its instance renews; when the instance dies the lease expires and the
//! reaper finishes the run as failed, keeping the text streamed so far.

use std::time::Duration;

use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::conversations::Finish;
use crate::{Store, StoreError, TenantId};

#[derive(Debug, Clone, FromRow)]
pub struct Run {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub user_message_id: Uuid,
    pub assistant_message_id: Uuid,
    pub status: String,
    pub cancel_requested: bool,
}

const COLUMNS: &str =
    "id, conversation_id, user_message_id, assistant_message_id, status, cancel_requested";

pub async fn start(
    conn: &mut PgConnection,
    tenant: TenantId,
    conversation: Uuid,
    user_message: Uuid,
    assistant_message: Uuid,
    owner: &str,
    lease: Duration,
) -> Result<Run, StoreError> {
    sqlx::query_as(&format!(
        "INSERT INTO runs (tenant_id, conversation_id, user_message_id, assistant_message_id, lease_owner, lease_expires_at) \
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(conversation)
    .bind(user_message)
    .bind(assistant_message)
    .bind(owner)
    .bind(lease.as_secs_f64())
    .fetch_one(conn)
    .await
    .map_err(|e| StoreError::unique(e, "a running generation in this conversation"))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Run>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Extends the lease; returns whether cancellation was requested (or the run is no
/// longer ours to finish, e.g. the reaper already failed it).
pub async fn renew(
    conn: &mut PgConnection,
    id: Uuid,
    owner: &str,
    lease: Duration,
) -> Result<bool, StoreError> {
    let row: Option<bool> = sqlx::query_scalar(
        "UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3) \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING cancel_requested",
    )
    .bind(id)
    .bind(owner)
    .bind(lease.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or(true))
}

pub async fn request_cancel(conn: &mut PgConnection, id: Uuid) -> Result<bool, StoreError> {
    let n =
        sqlx::query("UPDATE runs SET cancel_requested = true WHERE id = $1 AND status = 'running'")
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected();
    Ok(n > 0)
}

/// How a run ended, as [`end`] stores it.
pub struct End<'a> {
    pub conversation: Uuid,
    pub run: Uuid,
    /// `completed`, `cancelled` or `failed`.
    pub status: &'a str,
    /// The run's answer.
    pub message: Uuid,
    pub finish: Finish<'a>,
    /// The run's final events (without `seq`), its end last.
    pub events: &'a [Value],
    /// The seq of the first of them, when the run numbered everything before (its own
    /// end); `None` numbers them past anything the run reserved (the reaper).
    pub seq: Option<i64>,
    /// The answer's last checkpoint (numbered) and the stored one it replaces (0: none).
    pub checkpoint: Option<(&'a Value, i64)>,
}

/// Ends a run still running, in one call that commits on its own (`penny_finish_run`,
/// migration 0026): its status, its answer, its last checkpoint, its final events, the events API tool jobs
/// left in its inbox (after them), its analytics fact (see [`crate::analytics`]), and the
/// end of its seq reservation, all or nothing. Returns the stored events in seq order;
/// `None` when the run had already ended (the reaper got there first) or its
/// conversation is gone.
pub async fn end(
    store: &Store,
    tenant: TenantId,
    e: End<'_>,
) -> Result<Option<Vec<Value>>, StoreError> {
    let f = e.finish;
    let mut stored: Vec<Value> = sqlx::query_scalar(
        "SELECT penny_finish_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(tenant)
    .bind(e.conversation)
    .bind(e.run)
    .bind(e.status)
    .bind(e.message)
    .bind(f.content)
    .bind(f.status)
    .bind(f.model)
    .bind(f.input_tokens)
    .bind(f.output_tokens)
    .bind(f.ttft_ms)
    .bind(f.duration_ms)
    .bind(f.cost)
    .bind(f.error_code)
    .bind(f.tool_calls)
    .bind(e.events)
    .bind(e.seq)
    .bind(e.checkpoint.map(|(c, _)| c))
    .bind(e.checkpoint.map_or(0, |(_, r)| r))
    .fetch_all(store.pool())
    .await?;
    if stored.is_empty() {
        return Ok(None);
    }
    stored.sort_by_key(|e| e["seq"].as_i64());
    Ok(Some(stored))
}

/// The running run of `conversation`, locked against its end until this transaction
/// commits (`FOR SHARE`: [`end`] waits, so whatever this transaction adds to the run's
/// inbox is taken by that end).
pub async fn running_in(
    conn: &mut PgConnection,
    conversation: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM runs WHERE conversation_id = $1 AND status = 'running' FOR SHARE",
    )
    .bind(conversation)
    .fetch_optional(conn)
    .await?)
}

/// Leaves `events` for run `run` to number and store after its own end.
pub async fn leave_in_inbox(
    conn: &mut PgConnection,
    tenant: TenantId,
    run: Uuid,
    events: &[Value],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO run_inbox (tenant_id, run_id, events) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(run)
        .bind(Value::Array(events.to_vec()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Runs whose lease expired, in every tenant.
pub async fn expired(
    db: impl PgExecutor<'_>,
    limit: i32,
) -> Result<Vec<(TenantId, Uuid)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT tenant_id, run_id FROM penny_expired_runs($1)")
            .bind(limit)
            .fetch_all(db)
            .await?,
    )
}
