//! Tenants: a platform table, visible to the super-admin across tenants.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::{Slug, StoreError, TenantId};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub rate_limit_per_minute: Option<i32>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, slug, name, status, rate_limit_per_minute, created_at";

pub async fn create(
    db: impl PgExecutor<'_>,
    name: &str,
    slug: &Slug,
) -> Result<Tenant, StoreError> {
    let name = valid_name(name)?;
    sqlx::query_as(&format!(
        "INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(slug.as_str())
    .fetch_one(db)
    .await
    .map_err(|e| StoreError::unique(e, "slug"))
}

pub async fn by_slug(db: impl PgExecutor<'_>, slug: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(db)
            .await?,
    )
}

pub async fn by_id(db: impl PgExecutor<'_>, id: TenantId) -> Result<Option<Tenant>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Tenant>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants ORDER BY created_at, slug"
    ))
    .fetch_all(db)
    .await?)
}

fn valid_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid {
            field: "name",
            message: "must be 1-200 characters".into(),
        });
    }
    Ok(name)
}

/// What the super-admin may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes<'a> {
    pub name: Option<&'a str>,
    /// `active` or `suspended`.
    pub status: Option<&'a str>,
    /// `Some(None)` removes the tenant's own limit (the server's default applies).
    pub rate_limit_per_minute: Option<Option<i32>>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    id: TenantId,
    c: Changes<'_>,
) -> Result<Tenant, StoreError> {
    let name = c.name.map(valid_name).transpose()?;
    if let Some(status) = c.status {
        if !matches!(status, "active" | "suspended") {
            return Err(StoreError::Invalid {
                field: "status",
                message: "expected active or suspended".into(),
            });
        }
    }
    if let Some(Some(n)) = c.rate_limit_per_minute {
        if n < 1 {
            return Err(StoreError::Invalid {
                field: "rateLimitPerMinute",
                message: "must be at least 1 (or null for the server's default)".into(),
            });
        }
    }
    sqlx::query_as(&format!(
        "UPDATE tenants SET name = coalesce($2, name), status = coalesce($3, status), \
         rate_limit_per_minute = CASE WHEN $4 THEN $5 ELSE rate_limit_per_minute END \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(c.status)
    .bind(c.rate_limit_per_minute.is_some())
    .bind(c.rate_limit_per_minute.flatten())
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Per tenant: its users and the bytes it stores (uploads and artifact versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct Usage {
    pub tenant_id: TenantId,
    pub users: i64,
    pub storage_bytes: i64,
}

/// Usage of every tenant (a narrow definer function: aggregates only).
pub async fn usage(db: impl PgExecutor<'_>) -> Result<Vec<Usage>, StoreError> {
    Ok(
        sqlx::query_as("SELECT tenant_id, users, storage_bytes FROM penny_tenant_usage()")
            .fetch_all(db)
            .await?,
    )
}
