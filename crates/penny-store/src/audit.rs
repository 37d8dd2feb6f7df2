//! The audit log: append-only and hash-chained per tenant by the database itself (see the
//! `audit_chain` trigger), so no code path can write a row outside the chain.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

/// One entry to append.
#[derive(Debug, Default)]
pub struct Entry {
    pub actor: Option<UserId>,
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub payload_sha256: Option<Vec<u8>>,
    pub details: serde_json::Value,
}

pub async fn append(conn: &mut PgConnection, tenant: TenantId, e: Entry) -> Result<(), StoreError> {
    let details = if e.details.is_null() {
        serde_json::json!({})
    } else {
        e.details
    };
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_user_id, action, target_type, target_id, ip, user_agent, \
         payload_sha256, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target_type)
    .bind(e.target_id)
    .bind(e.ip)
    .bind(e.user_agent)
    .bind(e.payload_sha256)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Record {
    pub id: i64,
    pub actor_user_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub details: serde_json::Value,
}

/// The latest entries of the current tenant, newest first.
pub async fn recent(conn: &mut PgConnection, limit: i64) -> Result<Vec<Record>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, actor_user_id, action, target_type, target_id, ip, created_at, details \
         FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Which entries a listing shows; every field narrows it, `None` does not.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    /// An actor's e-mail address (lower case), matched through the tenant's users.
    pub actor_email: Option<String>,
    pub action: Option<String>,
    /// Actions that start with this (e.g. `user.`).
    pub action_prefix: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// At or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Entries with a smaller id (paging backwards).
    pub before: Option<i64>,
}

/// An entry as the admin console shows it, with the actor's address when the actor is
/// still a user of the tenant.
#[derive(Debug, Clone, FromRow)]
pub struct Listed {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub payload_sha256: Option<Vec<u8>>,
    pub details: serde_json::Value,
}

/// The current tenant's entries matching `f`, newest first, at most `limit`.
pub async fn list(
    conn: &mut PgConnection,
    f: &Filter,
    limit: i64,
) -> Result<Vec<Listed>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.created_at, a.actor_user_id, u.email AS actor_email, a.action, a.target_type, \
                a.target_id, a.ip, a.user_agent, a.payload_sha256, a.details \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id \
         WHERE ($1::uuid IS NULL OR a.actor_user_id = $1) \
           AND ($2::text IS NULL OR u.email = $2) \
           AND ($3::text IS NULL OR a.action = $3) \
           AND ($4::text IS NULL OR starts_with(a.action, $4)) \
           AND ($5::text IS NULL OR a.target_type = $5) \
           AND ($6::text IS NULL OR a.target_id = $6) \
           AND ($7::timestamptz IS NULL OR a.created_at >= $7) \
           AND ($8::timestamptz IS NULL OR a.created_at < $8) \
           AND ($9::bigint IS NULL OR a.id < $9) \
         ORDER BY a.id DESC LIMIT $10",
    )
    .bind(f.actor_id)
    .bind(&f.actor_email)
    .bind(&f.action)
    .bind(&f.action_prefix)
    .bind(&f.target_type)
    .bind(&f.target_id)
    .bind(f.from)
    .bind(f.until)
    .bind(f.before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Records that API key `key` was used, unless its use was recorded in the last hour.
/// One statement: concurrent requests with the same key record it once.
pub async fn api_key_use(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: Uuid,
    user: UserId,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "WITH marked AS ( \
           UPDATE api_keys SET use_audited_at = now() \
           WHERE id = $2 AND (use_audited_at IS NULL OR use_audited_at < now() - interval '1 hour') \
           RETURNING id, prefix) \
         INSERT INTO audit_log (tenant_id, actor_user_id, action, target_type, target_id, ip, user_agent, details) \
         SELECT $1, $3, 'api_key.use', 'api_key', id::text, $4, $5, jsonb_build_object('prefix', prefix) \
         FROM marked",
    )
    .bind(tenant)
    .bind(key)
    .bind(user)
    .bind(ip)
    .bind(user_agent)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// A row whose hash or link to its predecessor does not hold.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Break {
    pub tenant_id: Uuid,
    pub id: i64,
    pub reason: String,
}

/// Walks every tenant's chain (run as the owner, across tenants) and returns each break.
pub async fn verify(conn: &mut PgConnection) -> Result<Vec<Break>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, CASE WHEN hash <> sha256(prev_hash || audit_canonical(a)) \
              THEN 'row content does not match its hash' \
              ELSE 'previous row is missing or changed' END AS reason \
         FROM (SELECT a, tenant_id, id, hash, prev_hash, \
                      coalesce(lag(hash) OVER (PARTITION BY tenant_id ORDER BY id), '\\x'::bytea) AS expected_prev \
               FROM audit_log a) s \
         WHERE hash <> sha256(prev_hash || audit_canonical(a)) OR prev_hash <> expected_prev \
         ORDER BY tenant_id, id",
    )
    .fetch_all(conn)
    .await?)
}
