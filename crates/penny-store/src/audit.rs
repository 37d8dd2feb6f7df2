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
