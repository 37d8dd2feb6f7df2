//! First-run set-up: whether tenant `default` has an admin yet, and the one-time set-up
//! token that lets the browser create that admin. The token lives in a platform table as a
//! SHA-256 digest, reached only through narrow definer functions (migration 0008).

use sqlx::{PgConnection, PgExecutor};

use crate::{tenants, Store, StoreError, TenantId};

/// The tenant created at first start, whose first admin is also the platform super-admin.
pub const DEFAULT_TENANT: &str = "default";

/// Tenant `default`, when it exists, and whether it still needs its first admin.
pub async fn status(store: &Store) -> Result<Option<(TenantId, bool)>, StoreError> {
    let Some(tenant) = tenants::by_slug(store.pool(), DEFAULT_TENANT).await? else {
        return Ok(None);
    };
    let mut tx = store.tenant(tenant.id).await?;
    let admin = has_admin(&mut tx).await?;
    tx.commit().await?;
    Ok(Some((tenant.id, !admin)))
}

/// Whether the tenant the transaction is scoped to has an admin.
pub async fn has_admin(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM memberships WHERE role = 'admin')")
            .fetch_one(conn)
            .await?,
    )
}

/// Serialises set-ups (the browser's and a start with `PENNY_ADMIN_PASSWORD`) until the
/// transaction ends, so two of them cannot both find "no admin" and each create one.
pub async fn lock(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('penny.setup', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds `digest` as a valid set-up token: each API replica's start prints a link that
/// works, and the 16 most recent stay valid (migration 0018).
pub async fn issue(db: impl PgExecutor<'_>, digest: &[u8]) -> Result<(), StoreError> {
    sqlx::query("SELECT penny_setup_issue($1)")
        .bind(digest)
        .execute(db)
        .await?;
    Ok(())
}

/// Removes any set-up token (the platform has its admin).
pub async fn clear(db: impl PgExecutor<'_>) -> Result<(), StoreError> {
    sqlx::query("SELECT penny_setup_issue(NULL)")
        .execute(db)
        .await?;
    Ok(())
}

/// Whether `digest` is a valid set-up token (without using it).
pub async fn is_current(db: impl PgExecutor<'_>, digest: &[u8]) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT penny_setup_check($1)")
        .bind(digest)
        .fetch_one(db)
        .await?)
}

/// Uses up the set-up when `digest` is a valid token (every token goes); whether it was.
pub async fn consume(db: impl PgExecutor<'_>, digest: &[u8]) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT penny_setup_consume($1)")
        .bind(digest)
        .fetch_one(db)
        .await?)
}
