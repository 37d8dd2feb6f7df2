//! Users and their membership (role) in the current tenant. Every function takes a
//! tenant transaction; row-level security scopes it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::{Email, Role, StoreError, TenantId, UserId};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub is_super_admin: bool,
    pub status: String,
    /// No password yet: invited, and the invite link not used.
    pub invited: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user with the stored password hash, for login only.
#[derive(Debug, FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
    /// Generation of the account's failed-login counters (bumped to unlock it).
    pub login_unlock_gen: i32,
}

const SELECT: &str =
    "SELECT u.id, u.tenant_id, u.email, u.display_name, m.role, u.is_super_admin, \
     u.status, u.password_hash IS NULL AS invited, u.created_at, u.updated_at, u.password_hash, \
     u.login_unlock_gen \
     FROM users u JOIN memberships m ON m.tenant_id = u.tenant_id AND m.user_id = u.id";

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub role: Role,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub is_super_admin: bool,
}

pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    new: NewUser<'_>,
) -> Result<User, StoreError> {
    let id: UserId = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, password_hash, display_name, is_super_admin) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tenant)
    .bind(new.email.as_str())
    .bind(new.password_hash)
    .bind(new.display_name)
    .bind(new.is_super_admin)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "email"))?;
    sqlx::query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(id)
        .bind(new.role)
        .execute(&mut *conn)
        .await?;
    by_id(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn by_id(conn: &mut PgConnection, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

pub async fn credentials(
    conn: &mut PgConnection,
    email: &Email,
) -> Result<Option<Credentials>, StoreError> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE u.email = $1"))
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?)
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<User>, StoreError> {
    Ok(
        sqlx::query_as(&format!("{SELECT} ORDER BY u.created_at, u.email"))
            .fetch_all(conn)
            .await?,
    )
}

/// Starts the account's failed-login counters afresh (`penny admin unlock-login`).
pub async fn unlock_login(conn: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET login_unlock_gen = login_unlock_gen + 1 WHERE id = $1")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Serialises the changes that can take away a tenant's last admin (demote, deactivate,
/// delete): a transaction-scoped advisory lock keyed by the transaction's tenant, held
/// until commit.
pub async fn lock_admins(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('penny.admins:' || current_setting('app.tenant_id'), 0))",
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_with_role(conn: &mut PgConnection, role: Role) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
         WHERE m.role = $1 AND u.status = 'active'",
    )
    .bind(role)
    .fetch_one(conn)
    .await?)
}

/// Fields a change may set; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub status: Option<String>,
    pub password_hash: Option<String>,
}

pub async fn update(conn: &mut PgConnection, id: UserId, c: Changes) -> Result<User, StoreError> {
    if let Some(status) = &c.status {
        if status != "active" && status != "deactivated" {
            return Err(StoreError::Invalid {
                field: "status",
                message: "expected active or deactivated".into(),
            });
        }
    }
    let found = sqlx::query(
        "UPDATE users SET display_name = coalesce($2, display_name), status = coalesce($3, status), \
         password_hash = coalesce($4, password_hash), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(c.display_name)
    .bind(c.status)
    .bind(c.password_hash)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    StoreError::found(found)?;
    if let Some(role) = c.role {
        sqlx::query("UPDATE memberships SET role = $2 WHERE user_id = $1")
            .bind(id)
            .bind(role)
            .execute(&mut *conn)
            .await?;
    }
    by_id(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn delete(conn: &mut PgConnection, id: UserId) -> Result<(), StoreError> {
    let n = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    StoreError::found(n)
}
