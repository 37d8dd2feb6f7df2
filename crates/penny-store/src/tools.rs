//! Per-tenant tool settings: whether a tool is enabled and which roles may use it. A tool
//! without a row keeps its built-in defaults (the tools crate knows those).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::{Store, StoreError, TenantId};

#[derive(Debug, Clone, FromRow)]
pub struct ToolSetting {
    pub tool: String,
    pub enabled: bool,
    /// `None`: the tool's minimum role and above.
    pub roles: Option<Vec<String>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<ToolSetting>, StoreError> {
    Ok(
        sqlx::query_as("SELECT tool, enabled, roles, updated_at FROM tool_settings ORDER BY tool")
            .fetch_all(conn)
            .await?,
    )
}

/// [`list`] in one call outside any transaction (migration 0017): one round trip, for the
/// hot path of a send that allows tools.
pub async fn of_tenant(store: &Store, tenant: TenantId) -> Result<Vec<ToolSetting>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tool, enabled, roles, updated_at FROM penny_tool_settings($1) ORDER BY tool",
    )
    .bind(tenant)
    .fetch_all(store.pool())
    .await?)
}

pub async fn get(conn: &mut PgConnection, tool: &str) -> Result<Option<ToolSetting>, StoreError> {
    Ok(
        sqlx::query_as(
            "SELECT tool, enabled, roles, updated_at FROM tool_settings WHERE tool = $1",
        )
        .bind(tool)
        .fetch_optional(conn)
        .await?,
    )
}

/// Stores the whole setting of `tool` (insert or replace).
pub async fn put(
    conn: &mut PgConnection,
    tenant: TenantId,
    tool: &str,
    enabled: bool,
    roles: Option<&[String]>,
) -> Result<ToolSetting, StoreError> {
    Ok(sqlx::query_as(
        "INSERT INTO tool_settings (tenant_id, tool, enabled, roles) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, tool) DO UPDATE SET enabled = EXCLUDED.enabled, \
           roles = EXCLUDED.roles, updated_at = now() \
         RETURNING tool, enabled, roles, updated_at",
    )
    .bind(tenant)
    .bind(tool)
    .bind(enabled)
    .bind(roles)
    .fetch_one(conn)
    .await?)
}
