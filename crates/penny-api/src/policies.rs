//! The tenant's governance policies as one document: which roles may use each model and
//! each tool, the cap on output tokens per message, conversation retention and the
//! tenant's system prompt. Staff
//! read it, admins replace it. Tool grants are the same ones `PATCH /tools/{name}` sets.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use penny_store::policies::{self, Limits};
use penny_store::{models, tools as settings, Role, StoreError, TenantTx};
use penny_tools::Registry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::trail::{self, Change};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/policies", get(show).put(replace))
}

/// Largest values accepted: a cap above any model's output, a retention of a century.
const MAX_TOKENS_LIMIT: i32 = 1_000_000;
const MAX_RETENTION_DAYS: i32 = 36_500;
/// Longest tenant system prompt, in characters.
const MAX_SYSTEM_PROMPT: usize = 8000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoliciesDoc {
    /// Model name → roles that may use it. A model not listed is open to every role.
    #[schema(value_type = Object, example = json!({"gpt-4o": ["admin", "manager"]}))]
    model_roles: BTreeMap<String, Vec<Role>>,
    /// Tool name → roles that may use it. A tool not listed has its default grant (its
    /// minimum role and above).
    #[schema(value_type = Object, example = json!({"python_execute": ["admin", "creator"]}))]
    tool_roles: BTreeMap<String, Vec<Role>>,
    /// Caps every model's output tokens per message; `null`: no cap.
    max_tokens_per_message: Option<i32>,
    /// Conversations not updated for this many days are deleted; `null`: kept forever.
    retention_days: Option<i32>,
    /// Put before every conversation's own system prompt when a model is called (at most
    /// 8000 characters); `null` or omitted: none.
    #[serde(default)]
    system_prompt: Option<String>,
}

/// Roles in a stable order (most powerful first), each once.
fn ordered(roles: impl IntoIterator<Item = Role>) -> Vec<Role> {
    let mut v: Vec<Role> = roles.into_iter().collect();
    v.sort_by(|a, b| b.cmp(a));
    v.dedup();
    v
}

fn parse_roles(names: &[String]) -> Vec<Role> {
    ordered(names.iter().filter_map(|n| n.parse().ok()))
}

/// The stored policies; grants of tools this build does not know are left out.
async fn load(tx: &mut TenantTx, registry: &Registry) -> ApiResult<PoliciesDoc> {
    let limits = policies::limits(tx).await?;
    let model_roles = policies::model_grants(tx)
        .await?
        .into_iter()
        .map(|g| (g.name, parse_roles(&g.roles)))
        .collect();
    let tool_roles = settings::list(tx)
        .await?
        .into_iter()
        .filter(|s| registry.get(&s.tool).is_some())
        .filter_map(|s| Some((s.tool, parse_roles(s.roles.as_deref()?))))
        .collect();
    Ok(PoliciesDoc {
        model_roles,
        tool_roles,
        max_tokens_per_message: limits.max_tokens_per_message,
        retention_days: limits.retention_days,
        system_prompt: limits.system_prompt,
    })
}

fn check_range(field: &str, v: Option<i32>, max: i32) -> ApiResult<()> {
    match v {
        Some(n) if !(1..=max).contains(&n) => Err(ApiError::validation(
            field,
            format!("must be between 1 and {max}, or null"),
        )),
        _ => Ok(()),
    }
}

/// The tenant's policies (admins and managers).
#[utoipa::path(get, path = "/api/v1/policies", extensions(("x-penny-role" = json!("manager"))), tag = "policies", security(("bearer" = [])),
    responses((status = 200, body = PoliciesDoc), (status = 403)))]
async fn show(State(state): State<AppState>, who: Principal) -> ApiResult<Json<PoliciesDoc>> {
    who.require(Role::Manager)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let doc = load(&mut tx, &state.tools.registry).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(doc))
}

/// Replaces the tenant's policies (admin). Models and tools are named as configured;
/// an unknown name is refused.
#[utoipa::path(put, path = "/api/v1/policies", extensions(("x-penny-role" = json!("admin"))), tag = "policies", security(("bearer" = [])),
    request_body = PoliciesDoc,
    responses((status = 200, body = PoliciesDoc), (status = 403), (status = 422)))]
async fn replace(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<PoliciesDoc>,
) -> ApiResult<Json<PoliciesDoc>> {
    who.require(Role::Admin)?;
    let doc = body.value;
    check_range(
        "maxTokensPerMessage",
        doc.max_tokens_per_message,
        MAX_TOKENS_LIMIT,
    )?;
    check_range("retentionDays", doc.retention_days, MAX_RETENTION_DAYS)?;
    let system_prompt = doc
        .system_prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if system_prompt
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_SYSTEM_PROMPT)
    {
        return Err(ApiError::validation(
            "systemPrompt",
            format!("must be at most {MAX_SYSTEM_PROMPT} characters"),
        ));
    }
    let registry = &state.tools.registry;
    if let Some(unknown) = doc.tool_roles.keys().find(|t| registry.get(t).is_none()) {
        return Err(ApiError::validation(
            format!("toolRoles.{unknown}"),
            "no tool has this name",
        ));
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    let configured = models::list(&mut tx).await?;
    let mut grants: Vec<(Uuid, Vec<Role>)> = Vec::new();
    for (name, roles) in &doc.model_roles {
        let m = configured.iter().find(|m| &m.name == name).ok_or_else(|| {
            ApiError::validation(format!("modelRoles.{name}"), "no model has this name")
        })?;
        grants.push((m.id, ordered(roles.iter().copied())));
    }
    policies::replace_model_grants(&mut tx, who.tenant, &grants).await?;
    replace_tool_grants(&mut tx, &who, &doc.tool_roles).await?;
    let limits = Limits {
        max_tokens_per_message: doc.max_tokens_per_message,
        retention_days: doc.retention_days,
        system_prompt,
    };
    policies::put_limits(&mut tx, who.tenant, limits).await?;
    let stored = load(&mut tx, registry).await?;
    let change = Change {
        action: "policies.update",
        target_type: "tenant",
        target_id: who.tenant.to_string(),
        payload_sha256: Some(&body.sha256),
        details: serde_json::to_value(&stored).unwrap_or_default(),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(stored))
}

/// Gives each listed tool exactly its roles and returns every other tool with custom
/// roles to its default grant; whether a tool is enabled does not change.
async fn replace_tool_grants(
    tx: &mut TenantTx,
    who: &Principal,
    wanted: &BTreeMap<String, Vec<Role>>,
) -> ApiResult<()> {
    let current = settings::list(tx).await?;
    for (tool, roles) in wanted {
        let enabled = current
            .iter()
            .find(|s| &s.tool == tool)
            .is_none_or(|s| s.enabled);
        let names: Vec<String> = ordered(roles.iter().copied())
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        settings::put(tx, who.tenant, tool, enabled, Some(&names)).await?;
    }
    for s in current
        .iter()
        .filter(|s| s.roles.is_some() && !wanted.contains_key(&s.tool))
    {
        settings::put(tx, who.tenant, &s.tool, s.enabled, None).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_unique() {
        assert_eq!(
            ordered([Role::Viewer, Role::Admin, Role::Viewer, Role::Creator]),
            vec![Role::Admin, Role::Creator, Role::Viewer]
        );
        assert_eq!(
            parse_roles(&["viewer".into(), "root".into(), "manager".into()]),
            vec![Role::Manager, Role::Viewer]
        );
    }
}
