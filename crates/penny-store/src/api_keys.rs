//! API keys: stored as SHA-256 digests; the plaintext is shown once at creation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, expires_at, revoked_at";

pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    name: &str,
    prefix: &str,
    digest: &[u8],
) -> Result<ApiKey, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid {
            field: "name",
            message: "must be 1-200 characters".into(),
        });
    }
    Ok(sqlx::query_as(&format!(
        "INSERT INTO api_keys (tenant_id, user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(user)
    .bind(name)
    .bind(prefix)
    .bind(digest)
    .fetch_one(conn)
    .await?)
}

/// The tenant that owns a key digest, whatever its state. Runs before the tenant is known.
pub async fn tenant_of(
    db: impl PgExecutor<'_>,
    digest: &[u8],
) -> Result<Option<TenantId>, StoreError> {
    Ok(sqlx::query_scalar("SELECT penny_api_key_tenant($1)")
        .bind(digest)
        .fetch_one(db)
        .await?)
}

/// The live key with this digest, marking it used (at most once a minute, to keep the
/// hot path free of writes).
pub async fn authenticate(
    conn: &mut PgConnection,
    digest: &[u8],
) -> Result<Option<ApiKey>, StoreError> {
    let key: Option<ApiKey> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > now())"
    ))
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(k) = &key {
        if k.last_used_at
            .is_none_or(|t| t < Utc::now() - chrono::Duration::seconds(60))
        {
            sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
                .bind(k.id)
                .execute(conn)
                .await?;
        }
    }
    Ok(key)
}

/// Keys of one user, or of the whole tenant when `user` is `None`.
pub async fn list(
    conn: &mut PgConnection,
    user: Option<UserId>,
) -> Result<Vec<ApiKey>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE ($1::uuid IS NULL OR user_id = $1) ORDER BY created_at DESC"
    ))
    .bind(user)
    .fetch_all(conn)
    .await?)
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Revokes every key of `user` (a password reset: whoever knew the password may have
/// made keys). Returns how many were live.
pub async fn revoke_user(conn: &mut PgConnection, user: crate::UserId) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn revoke(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let n =
        sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected();
    StoreError::found(n)
}
