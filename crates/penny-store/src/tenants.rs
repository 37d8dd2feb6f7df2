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
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid {
            field: "name",
            message: "must be 1-200 characters".into(),
        });
    }
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
