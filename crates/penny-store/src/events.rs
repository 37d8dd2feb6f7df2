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

/// Stores the events of several conversations of one tenant in two statements and
/// returns them with `seq` set, per conversation in the order given; `None` for a
/// conversation that no longer exists (its events are not stored). `batch` is kept as it
/// is, so a caller can still store it another way if this fails.
pub async fn append_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: &[(Uuid, Vec<Value>)],
) -> Result<Vec<(Uuid, Option<Vec<Value>>)>, StoreError> {
    let ids: Vec<Uuid> = batch.iter().map(|(c, _)| *c).collect();
    let counts: Vec<i64> = batch.iter().map(|(_, e)| e.len() as i64).collect();
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "UPDATE conversations c SET last_seq = c.last_seq + b.n \
         FROM unnest($1::uuid[], $2::bigint[]) AS b(id, n) WHERE c.id = b.id \
         RETURNING c.id, c.last_seq",
    )
    .bind(&ids)
    .bind(&counts)
    .fetch_all(&mut *conn)
    .await?;
    let last: std::collections::HashMap<Uuid, i64> = rows.into_iter().collect();
    // One flat copy of the stored events (with their seqs) is bound to the insert, then
    // split back per conversation without copying again.
    let mut conversations = Vec::new();
    let mut seqs = Vec::new();
    let mut stored = Vec::new();
    for (conversation, events) in batch {
        let Some(&last) = last.get(conversation) else {
            continue;
        };
        let first = last - events.len() as i64 + 1;
        for (i, e) in events.iter().enumerate() {
            let seq = first + i as i64;
            let mut e = e.clone();
            e["seq"] = Value::from(seq);
            conversations.push(*conversation);
            seqs.push(seq);
            stored.push(e);
        }
    }
    if !stored.is_empty() {
        sqlx::query(
            "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event) \
             SELECT $1, c, s, e FROM unnest($2::uuid[], $3::bigint[], $4::jsonb[]) AS t(c, s, e)",
        )
        .bind(tenant)
        .bind(&conversations)
        .bind(&seqs)
        .bind(&stored)
        .execute(conn)
        .await?;
    }
    let mut stored = stored.into_iter();
    Ok(batch
        .iter()
        .map(|(conversation, events)| {
            let mine = last
                .contains_key(conversation)
                .then(|| stored.by_ref().take(events.len()).collect());
            (*conversation, mine)
        })
        .collect())
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
