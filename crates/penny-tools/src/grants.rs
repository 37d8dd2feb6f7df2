//! Who may use which tool in a tenant: a tool is usable when the tenant has not disabled
//! it and the caller's role is granted (by the tenant's list, or by the tool's minimum
//! role when the tenant has none).

use penny_store::tools::{self as settings, ToolSetting};
use penny_store::Role;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

use crate::error::ToolError;
use crate::registry::{Registry, ToolDef};

/// A tool as `GET /api/v1/tools` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    pub description: String,
    pub parameters: Value,
    pub min_role: Role,
    pub timeout_sec: u64,
    pub enabled: bool,
    /// Roles that may use it (the tenant's grants, or the defaults).
    pub roles: Vec<Role>,
    /// True when the tenant has set its own grants.
    pub custom_roles: bool,
    /// Whether the caller may use it now.
    pub usable: bool,
}

/// The roles granted `def` under `setting`.
pub fn granted(def: &ToolDef, setting: Option<&ToolSetting>) -> Vec<Role> {
    match setting.and_then(|s| s.roles.as_ref()) {
        Some(names) => Role::ALL
            .into_iter()
            .filter(|r| names.iter().any(|n| n == r.as_str()))
            .collect(),
        None => Role::ALL
            .into_iter()
            .filter(|r| r.at_least(def.min_role))
            .collect(),
    }
}

pub fn view(def: &ToolDef, setting: Option<&ToolSetting>, role: Role) -> ToolView {
    let roles = granted(def, setting);
    let enabled = setting.map(|s| s.enabled).unwrap_or(true);
    ToolView {
        name: def.name.to_string(),
        description: def.description.to_string(),
        parameters: def.parameters.clone(),
        min_role: def.min_role,
        timeout_sec: def.timeout.as_secs(),
        enabled,
        usable: enabled && roles.contains(&role),
        custom_roles: setting.is_some_and(|s| s.roles.is_some()),
        roles,
    }
}

/// Every tool with the tenant's settings applied, as seen by `role`.
pub async fn views(
    registry: &Registry,
    conn: &mut PgConnection,
    role: Role,
) -> Result<Vec<ToolView>, ToolError> {
    let stored = settings::list(conn).await?;
    Ok(views_under(registry, &stored, role))
}

/// Every tool with `stored` (the tenant's settings) applied, as seen by `role`.
pub fn views_under(registry: &Registry, stored: &[ToolSetting], role: Role) -> Vec<ToolView> {
    registry
        .all()
        .map(|def| view(def, stored.iter().find(|s| s.tool == def.name), role))
        .collect()
}

/// The tool named `name` if `role` may use it in this tenant, else why not.
pub async fn usable<'r>(
    registry: &'r Registry,
    conn: &mut PgConnection,
    name: &str,
    role: Role,
) -> Result<&'r ToolDef, ToolError> {
    let def = registry.get(name).ok_or(ToolError::NotFound)?;
    let setting = settings::get(conn, name).await?;
    let v = view(def, setting.as_ref(), role);
    if !v.enabled {
        return Err(ToolError::Disabled(name.into()));
    }
    if !v.usable {
        return Err(ToolError::Forbidden(name.into()));
    }
    Ok(def)
}
