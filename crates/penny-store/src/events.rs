//! The conversation event log. Seqs are allocated by bumping the conversation's counter
//! (`conversation_seqs.last_seq`, a narrow row of its own) in the same transaction that stores the events, so they are strictly increasing per
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
    events: Vec<Value>,
) -> Result<Vec<Value>, StoreError> {
    if events.is_empty() {
        return Ok(events);
    }
    let mut stored = append_many(conn, tenant, &[(conversation, events)]).await?;
    stored
        .pop()
        .and_then(|(_, events)| events)
        .ok_or(StoreError::NotFound)
}

/// Stores the events of several conversations of one tenant in one statement and
/// returns them with `seq` set, per conversation in the order given; `None` for a
/// conversation that no longer exists (its events are not stored). `batch` is kept as it
/// is, so a caller can still store it another way if this fails.
///
/// `conn` may be in a transaction of `tenant` (the events commit with it) or in none (the
/// call commits on its own, in one round trip: the shared event writer's batches); the
/// call scopes the transaction to `tenant` either way.
///
/// `penny_append_events` (migrations 0014, 0015) bumps each conversation's counter by its
/// number of events, one primary-key update each (which locks its row until the commit,
/// so seqs are allocated in commit order per conversation), and inserts the events
/// numbered from the old value, with `seq` written into each stored event.
pub async fn append_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: &[(Uuid, Vec<Value>)],
) -> Result<Vec<(Uuid, Option<Vec<Value>>)>, StoreError> {
    let ids: Vec<Uuid> = batch.iter().map(|(c, _)| *c).collect();
    let counts: Vec<i64> = batch.iter().map(|(_, e)| e.len() as i64).collect();
    // One flat copy of the events, with each one's slot (its conversation's 1-based place
    // in `ids`) and 1-based place among that conversation's events; `seq` is set on the
    // copies once the call has said where each conversation's events start, and they are
    // split back per conversation without copying again.
    let mut slots = Vec::new();
    let mut places = Vec::new();
    let mut copies = Vec::new();
    for (slot, (_, events)) in batch.iter().enumerate() {
        for (i, e) in events.iter().enumerate() {
            slots.push(slot as i32 + 1);
            places.push(i as i64 + 1);
            copies.push(e.clone());
        }
    }
    let bases: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT conv, base FROM penny_append_events($1, $2, $3, $4, $5, $6)")
            .bind(tenant)
            .bind(&ids)
            .bind(&counts)
            .bind(&slots)
            .bind(&places)
            .bind(&copies)
            .fetch_all(conn)
            .await?;
    let bases: std::collections::HashMap<Uuid, i64> = bases.into_iter().collect();
    let mut copies = copies.into_iter();
    Ok(batch
        .iter()
        .map(|(conversation, events)| {
            // Taken whether or not it was stored, so the next conversation's start here.
            let mine: Vec<Value> = copies.by_ref().take(events.len()).collect();
            let stored = bases.get(conversation).map(|base| {
                mine.into_iter()
                    .zip(base + 1..)
                    .map(|(mut e, seq)| {
                        e["seq"] = Value::from(seq);
                        e
                    })
                    .collect()
            });
            (*conversation, stored)
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
