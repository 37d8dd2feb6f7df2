//! A tenant's theme: display name, logo and accent colour. A tenant without a row uses
//! the defaults (the caller fills in the tenant's name).

use sqlx::{FromRow, PgConnection};

use crate::{StoreError, TenantId};

/// The accent colour of a tenant that has not chosen one.
pub const DEFAULT_ACCENT: &str = "#4f46e5";

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Theme {
    /// `None`: the tenant's own name.
    pub name: Option<String>,
    pub logo_url: Option<String>,
    /// `#rrggbb`, lower case.
    pub accent_color: String,
}

pub async fn get(conn: &mut PgConnection) -> Result<Option<Theme>, StoreError> {
    Ok(
        sqlx::query_as("SELECT name, logo_url, accent_color FROM tenant_themes")
            .fetch_optional(conn)
            .await?,
    )
}

/// Stores the whole theme (insert or replace).
pub async fn put(
    conn: &mut PgConnection,
    tenant: TenantId,
    t: &Theme,
) -> Result<Theme, StoreError> {
    sqlx::query_as(
        "INSERT INTO tenant_themes (tenant_id, name, logo_url, accent_color) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name, logo_url = EXCLUDED.logo_url, \
           accent_color = EXCLUDED.accent_color, updated_at = now() \
         RETURNING name, logo_url, accent_color",
    )
    .bind(tenant)
    .bind(&t.name)
    .bind(&t.logo_url)
    .bind(&t.accent_color)
    .fetch_one(conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_check_violation() => StoreError::Invalid {
            field: "theme",
            message: "name must be 1-200 characters, accentColor #rrggbb, logoUrl at most 400000 characters"
                .into(),
        },
        _ => StoreError::Database(e),
    })
}
