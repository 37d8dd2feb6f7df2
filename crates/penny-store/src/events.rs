//! The conversation event log: the durable part of a conversation's events.
//!
//! A run numbers its conversation's events itself while it lives ([`put_many`]: deltas
//! are not stored, checkpoints of the answer's text stand in for them); everyone else
//! numbers by bumping the conversation's counter (`conversation_seqs.last_seq`, a narrow
//! row of its own) in the transaction that stores the events ([`append`]), past any seq a
//! running run reserved. So seqs are strictly increasing per conversation whoever writes,
//! and a stored event is stored before anyone is told of it.

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

/// What one conversation's run stores in a batch of [`put_many`].
#[derive(Debug, Default)]
pub struct RunEvents {
    /// Numbered (`seq` set), in seq order.
    pub events: Vec<Value>,
    /// The highest seq the run may publish from this commit on (0: unchanged).
    pub reserve: i64,
    /// A stored checkpoint that one of `events` replaces (0: none).
    pub replaces: i64,
    /// The answer's text so far, for `messages.content` (`None`: unchanged).
    pub content: Option<(Uuid, String)>,
}

/// Stores what runs of `tenant` numbered themselves, for several conversations in one call
/// that commits on its own (`penny_put_events`, migration 0026). Returns the
/// conversations that exist; nothing is stored for the others.
pub async fn put_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: &[(Uuid, RunEvents)],
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<Uuid> = batch.iter().map(|(c, _)| *c).collect();
    let top: Vec<i64> = batch
        .iter()
        .map(|(_, r)| {
            r.events
                .iter()
                .filter_map(|e| e["seq"].as_i64())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let reserve: Vec<i64> = batch.iter().map(|(_, r)| r.reserve).collect();
    let replace: Vec<i64> = batch.iter().map(|(_, r)| r.replaces).collect();
    let messages: Vec<Option<Uuid>> = batch
        .iter()
        .map(|(_, r)| r.content.as_ref().map(|(m, _)| *m))
        .collect();
    let contents: Vec<Option<&str>> = batch
        .iter()
        .map(|(_, r)| r.content.as_ref().map(|(_, t)| t.as_str()))
        .collect();
    let mut slots = Vec::new();
    let mut events = Vec::new();
    for (slot, (_, r)) in batch.iter().enumerate() {
        for e in &r.events {
            slots.push(slot as i32 + 1);
            events.push(e);
        }
    }
    Ok(
        sqlx::query_scalar("SELECT penny_put_events($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(tenant)
            .bind(&ids)
            .bind(&top)
            .bind(&reserve)
            .bind(&replace)
            .bind(&messages)
            .bind(&contents)
            .bind(&slots)
            .bind(&events)
            .fetch_all(conn)
            .await?,
    )
}

/// The highest seq stored for `conversation` (0 for none).
pub async fn last_stored(conn: &mut PgConnection, conversation: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(max(seq), 0) FROM conversation_events WHERE conversation_id = $1",
    )
    .bind(conversation)
    .fetch_one(conn)
    .await?)
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
