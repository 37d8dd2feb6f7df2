//! Invitation and password-reset links: one-time tokens stored as SHA-256 digests. A link
//! arrives before its tenant is known; [`tenant_of`] maps the digest to the tenant (a
//! narrow definer function), and everything else runs under that tenant's RLS.

use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new user sets a first password.
    Invite,
    /// An existing user sets a new password; their sessions end.
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "invite" => Ok(Purpose::Invite),
            "reset" => Ok(Purpose::Reset),
            _ => Err(StoreError::Invalid {
                field: "purpose",
                message: "expected invite or reset".into(),
            }),
        }
    }
}

pub struct NewLink<'a> {
    pub tenant: TenantId,
    pub user: UserId,
    pub purpose: Purpose,
    pub digest: &'a [u8],
    pub ttl: Duration,
    pub created_by: Option<UserId>,
}

/// Stores a link and revokes the user's earlier unused ones; returns its expiry.
pub async fn create(
    conn: &mut PgConnection,
    new: NewLink<'_>,
) -> Result<DateTime<Utc>, StoreError> {
    sqlx::query(
        "UPDATE invitations SET revoked_at = now() \
         WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(new.user)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO invitations (tenant_id, user_id, purpose, token_hash, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING expires_at",
    )
    .bind(new.tenant)
    .bind(new.user)
    .bind(new.purpose.as_str())
    .bind(new.digest)
    .bind(new.created_by)
    .bind(Utc::now() + new.ttl)
    .fetch_one(conn)
    .await?)
}

/// The tenant that issued a link digest, whatever its state. Runs before the tenant is known.
pub async fn tenant_of(
    db: impl PgExecutor<'_>,
    digest: &[u8],
) -> Result<Option<TenantId>, StoreError> {
    Ok(sqlx::query_scalar("SELECT penny_invitation_tenant($1)")
        .bind(digest)
        .fetch_one(db)
        .await?)
}

/// A link that can still be used, with the address of its (active) user.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Uuid,
    pub user: UserId,
    pub email: String,
    pub purpose: Purpose,
    pub expires_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct PendingRow {
    id: Uuid,
    user_id: UserId,
    email: String,
    purpose: String,
    expires_at: DateTime<Utc>,
}

/// The live link with this digest: unused, unrevoked, unexpired, its user active. With
/// `lock`, the row stays locked until the transaction ends (for [`consume`]).
pub async fn pending(
    conn: &mut PgConnection,
    digest: &[u8],
    lock: bool,
) -> Result<Option<Pending>, StoreError> {
    let sql = format!(
        "SELECT i.id, i.user_id, u.email, i.purpose, i.expires_at \
         FROM invitations i JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.user_id \
         WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL \
           AND i.expires_at > now() AND u.status = 'active'{}",
        if lock { " FOR UPDATE OF i" } else { "" }
    );
    let row: Option<PendingRow> = sqlx::query_as(&sql)
        .bind(digest)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Pending {
            id: r.id,
            user: r.user_id,
            email: r.email,
            purpose: Purpose::parse(&r.purpose)?,
            expires_at: r.expires_at,
        })
    })
    .transpose()
}

/// Marks a link used; false when it was used, revoked or expired meanwhile.
pub async fn consume(conn: &mut PgConnection, id: Uuid) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE invitations SET used_at = now() \
         WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}
