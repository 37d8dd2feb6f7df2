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
    /// How long the refresh token works unused.
    pub ttl: Duration,
    /// How long the login lasts at most, however often it is refreshed.
    pub max_age: Duration,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a new family; returns its id.
pub async fn start(conn: &mut PgConnection, new: NewSession<'_>) -> Result<Uuid, StoreError> {
    let family = Uuid::new_v4();
    let now = Utc::now();
    let ends = now + new.max_age;
    sqlx::query(
        "INSERT INTO refresh_sessions \
         (tenant_id, user_id, family_id, token_hash, expires_at, login_expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.tenant)
    .bind(new.user)
    .bind(family)
    .bind(new.digest)
    .bind(ends.min(now + new.ttl))
    .bind(ends)
    .bind(&new.ip)
    .bind(&new.user_agent)
    .execute(conn)
    .await?;
    Ok(family)
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
    login_expires_at: chrono::DateTime<Utc>,
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
        "SELECT user_id, family_id, used_at IS NOT NULL AS used, login_expires_at, \
         (revoked_at IS NULL AND expires_at > now() AND login_expires_at > now()) AS live \
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
    // The next token lives `ttl`, but never past the end of its login.
    sqlx::query(
        "INSERT INTO refresh_sessions \
         (tenant_id, user_id, family_id, token_hash, expires_at, login_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(row.user_id)
    .bind(row.family_id)
    .bind(new_digest)
    .bind(row.login_expires_at.min(Utc::now() + ttl))
    .bind(row.login_expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(Rotation::Rotated {
        user: row.user_id,
        family: row.family_id,
    })
}

/// What an access token's holder may do now: the user's current role and status, and
/// whether the login (`family`) the token came from is still live. `None`: no such user.
#[derive(Debug, Clone, FromRow)]
pub struct Access {
    pub role: crate::Role,
    pub is_super_admin: bool,
    pub active: bool,
    pub live: bool,
}

pub async fn access(
    conn: &mut PgConnection,
    user: UserId,
    family: Uuid,
) -> Result<Option<Access>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT m.role, u.is_super_admin, u.status = 'active' AS active, \
         EXISTS (SELECT 1 FROM refresh_sessions s WHERE s.family_id = $2 AND s.user_id = u.id \
                 AND s.revoked_at IS NULL AND s.login_expires_at > now()) AS live \
         FROM users u JOIN memberships m ON m.tenant_id = u.tenant_id AND m.user_id = u.id \
         WHERE u.id = $1",
    )
    .bind(user)
    .bind(family)
    .fetch_optional(conn)
    .await?)
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
