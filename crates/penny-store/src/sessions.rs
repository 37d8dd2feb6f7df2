//! Refresh sessions with rotation and reuse detection.
//!
//! A family is one login. Each refresh marks the presented token used and issues the next
//! one in the same family. A used token presented again means it was copied: the whole
//! family is revoked, so neither the thief nor the user can continue without logging in.

use chrono::{Duration, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

pub struct NewSession<'a> {
    pub tenant: TenantId,
    pub user: UserId,
    pub digest: &'a [u8],
    pub ttl: Duration,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a new family; returns its id.
pub async fn start(conn: &mut PgConnection, new: NewSession<'_>) -> Result<Uuid, StoreError> {
    let family = Uuid::new_v4();
    insert(conn, &new, family).await?;
    Ok(family)
}

async fn insert(
    conn: &mut PgConnection,
    new: &NewSession<'_>,
    family: Uuid,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_sessions (tenant_id, user_id, family_id, token_hash, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.tenant)
    .bind(new.user)
    .bind(family)
    .bind(new.digest)
    .bind(Utc::now() + new.ttl)
    .bind(&new.ip)
    .bind(&new.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant that issued a refresh token digest. Runs before the tenant is known.
pub async fn tenant_of(
    db: impl PgExecutor<'_>,
    digest: &[u8],
) -> Result<Option<TenantId>, StoreError> {
    Ok(sqlx::query_scalar("SELECT penny_refresh_tenant($1)")
        .bind(digest)
        .fetch_one(db)
        .await?)
}

#[derive(Debug, PartialEq)]
pub enum Rotation {
    Rotated {
        user: UserId,
        family: Uuid,
    },
    /// The token had been used before: its family is now revoked. Commit, then refuse.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(FromRow)]
struct Row {
    user_id: UserId,
    family_id: Uuid,
    used: bool,
    live: bool,
}

/// Exchanges the token with digest `old` for `new_digest` in the same family.
pub async fn rotate(
    conn: &mut PgConnection,
    tenant: TenantId,
    old: &[u8],
    new_digest: &[u8],
    ttl: Duration,
) -> Result<Rotation, StoreError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT user_id, family_id, used_at IS NOT NULL AS used, \
         (revoked_at IS NULL AND expires_at > now()) AS live \
         FROM refresh_sessions WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(old)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Rotation::Invalid);
    };
    if row.used {
        revoke_family(conn, row.family_id).await?;
        return Ok(Rotation::Reused);
    }
    if !row.live {
        return Ok(Rotation::Invalid);
    }
    sqlx::query("UPDATE refresh_sessions SET used_at = now() WHERE token_hash = $1")
        .bind(old)
        .execute(&mut *conn)
        .await?;
    let next = NewSession {
        tenant,
        user: row.user_id,
        digest: new_digest,
        ttl,
        ip: None,
        user_agent: None,
    };
    insert(conn, &next, row.family_id).await?;
    Ok(Rotation::Rotated {
        user: row.user_id,
        family: row.family_id,
    })
}

pub async fn revoke_family(conn: &mut PgConnection, family: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE refresh_sessions SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user (deactivation, password reset, deletion).
pub async fn revoke_user(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes sessions that expired or were revoked more than `days` ago, in every tenant.
/// Returns how many went.
pub async fn purge_ended(db: impl PgExecutor<'_>, days: i32) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT penny_purge_sessions(make_interval(days => $1))")
            .bind(days)
            .fetch_one(db)
            .await?,
    )
}
