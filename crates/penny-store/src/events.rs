//! The conversation event log. Seqs are allocated by bumping `conversations.last_seq` in
//! the same transaction that stores the events, so they are strictly increasing per
//! conversation whoever writes them, and an event is durable before anyone is told of it.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, TenantId};

/// Stores `events` (JSON objects without `seq`) and returns them with `seq` set.
pub async fn append(
    conn: &mut PgConnection,
    tenant: TenantId,
    conversation: Uuid,
    mut events: Vec<Value>,
) -> Result<Vec<Value>, StoreError> {
    if events.is_empty() {
        return Ok(events);
    }
    let n = events.len() as i64;
    let last: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation)
    .bind(n)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let first = last - n + 1;
    let mut seqs = Vec::with_capacity(events.len());
    for (i, e) in events.iter_mut().enumerate() {
        let seq = first + i as i64;
        e["seq"] = Value::from(seq);
        seqs.push(seq);
    }
    sqlx::query(
        "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event) \
         SELECT $1, $2, s, e FROM unnest($3::bigint[], $4::jsonb[]) AS t(s, e)",
    )
    .bind(tenant)
    .bind(conversation)
    .bind(&seqs)
    .bind(&events)
    .execute(conn)
    .await?;
    Ok(events)
}

/// Events after `after`, in order, at most `limit`.
pub async fn after(
    conn: &mut PgConnection,
    conversation: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Value>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT event FROM conversation_events WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(conversation)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The text streamed so far for `message` (deltas in order), for a run whose writer died.
pub async fn streamed_text(
    conn: &mut PgConnection,
    conversation: Uuid,
    message: Uuid,
) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(string_agg(event->>'text', '' ORDER BY seq), '') FROM conversation_events \
         WHERE conversation_id = $1 AND event->>'type' = 'message.delta' AND event->>'messageId' = $2::text",
    )
    .bind(conversation)
    .bind(message)
    .fetch_one(conn)
    .await?)
}
