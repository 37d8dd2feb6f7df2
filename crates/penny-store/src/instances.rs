//! Running `penny serve` processes: a platform table (not tenant-owned) that each process
//! writes every few seconds, so the health page can tell which ones are alive.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::StoreError;

/// An instance not seen for this long is shown as not alive.
pub const ALIVE_WITHIN_SECS: i64 = 30;

/// Rows of instances not seen for this long are deleted.
pub const FORGET_AFTER_HOURS: i64 = 24;

/// What a process says about itself.
#[derive(Debug, Clone)]
pub struct Announce<'a> {
    pub id: Uuid,
    pub host: &'a str,
    pub roles: &'a [String],
    pub version: &'a str,
}

#[derive(Debug, Clone, FromRow)]
pub struct Instance {
    pub id: Uuid,
    pub host: String,
    pub roles: Vec<String>,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub alive: bool,
}

/// Records that the instance is alive now (the first beat sets its start time), and
/// forgets instances gone for a day.
pub async fn beat(db: impl PgExecutor<'_>, me: &Announce<'_>) -> Result<(), StoreError> {
    let host: String = me.host.chars().take(255).collect();
    sqlx::query(
        "WITH seen AS (
           INSERT INTO instances (id, host, roles, version, started_at, last_seen_at)
           VALUES ($1, $2, $3, $4, now(), now())
           ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), host = EXCLUDED.host,
                                          roles = EXCLUDED.roles, version = EXCLUDED.version
           RETURNING id)
         DELETE FROM instances
          WHERE last_seen_at < now() - make_interval(hours => $5)
            AND id NOT IN (SELECT id FROM seen)",
    )
    .bind(me.id)
    .bind(if host.is_empty() {
        "unknown".into()
    } else {
        host
    })
    .bind(me.roles)
    .bind(me.version)
    .bind(FORGET_AFTER_HOURS as i32)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes the instance (it is shutting down cleanly).
pub async fn leave(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM instances WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Every known instance, alive ones first, most recently seen first.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Instance>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, host, roles, version, started_at, last_seen_at,
                last_seen_at > now() - make_interval(secs => $1) AS alive
           FROM instances ORDER BY alive DESC, last_seen_at DESC, id",
    )
    .bind(ALIVE_WITHIN_SECS as f64)
    .fetch_all(db)
    .await?)
}
