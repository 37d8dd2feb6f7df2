//! Tools: list what the caller may use, change a tool's tenant settings (admin), and
//! invoke a tool directly. An invocation is a job on the `tools` queue, enqueued in the
//! same transaction as its audit record.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use penny_queue::JobId;
use penny_store::{conversations, tools as settings, Role, StoreError};
use penny_tools::grants::{self, ToolView};
use penny_tools::Payload as JobPayload;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::jobs::JobView;
use crate::trail::{self, Change};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tools", get(list))
        .route("/tools/{name}", patch(update))
        .route("/tools/{name}/invoke", post(invoke))
}

/// Every tool, with the tenant's settings and whether the caller may use it.
#[utoipa::path(get, path = "/api/v1/tools", tag = "tools", security(("bearer" = [])),
    responses((status = 200, description = "Tools with their JSON Schemas")))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<ToolView>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let views = grants::views(&state.tools.registry, &mut tx, who.role).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolSettingsBody {
    enabled: Option<bool>,
    /// Roles that may use the tool; `null` goes back to the tool's default.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    roles: Option<Option<Vec<Role>>>,
}

/// Enables or disables a tool for the tenant and sets which roles may use it (admin).
#[utoipa::path(patch, path = "/api/v1/tools/{name}", extensions(("x-penny-role" = json!("admin"))), tag = "tools", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = ToolSettingsBody,
    responses((status = 200), (status = 403), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(name): Path<String>,
    body: Payload<ToolSettingsBody>,
) -> ApiResult<Json<ToolView>> {
    who.require(Role::Admin)?;
    let def = state.tools.registry.get(&name).ok_or(ApiError::NotFound)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let current = settings::get(&mut tx, &name).await?;
    let enabled = body
        .value
        .enabled
        .or(current.as_ref().map(|c| c.enabled))
        .unwrap_or(true);
    let roles: Option<Vec<String>> = match body.value.roles {
        Some(Some(list)) => Some(list.iter().map(|r| r.as_str().to_string()).collect()),
        Some(None) => None,
        None => current.and_then(|c| c.roles),
    };
    let stored = settings::put(&mut tx, who.tenant, &name, enabled, roles.as_deref()).await?;
    let change = Change {
        action: "tool.update",
        target_type: "tool",
        target_id: name.clone(),
        payload_sha256: Some(&body.sha256),
        details: json!({"enabled": stored.enabled, "roles": stored.roles}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(grants::view(def, Some(&stored), who.role)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvokeBody {
    /// The tool's parameters, checked against its JSON Schema.
    #[schema(value_type = Object)]
    params: Value,
    /// Report the result (and artifacts) as events of this conversation.
    conversation_id: Option<Uuid>,
    /// A second invocation with the same key returns the first one's job.
    idempotency_key: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct InvokeQuery {
    /// Wait for the job to finish (up to the tool's timeout and the request timeout).
    #[serde(default)]
    wait: bool,
}

/// Invokes a tool: 202 with the job id, or with `?wait=true` 200 and the finished job.
#[utoipa::path(post, path = "/api/v1/tools/{name}/invoke", tag = "tools", security(("bearer" = [])),
    params(("name" = String, Path), InvokeQuery), request_body = InvokeBody,
    responses((status = 202, description = "{jobId}"), (status = 200, body = JobView),
        (status = 403), (status = 404), (status = 422)))]
async fn invoke(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(name): Path<String>,
    Query(q): Query<InvokeQuery>,
    body: Payload<InvokeBody>,
) -> ApiResult<Response> {
    let registry = &state.tools.registry;
    let mut tx = state.store.tenant(who.tenant).await?;
    let def = grants::usable(registry, &mut tx, &name, who.role).await?;
    def.validate(&body.value.params)?;
    if let Some(c) = body.value.conversation_id {
        conversations::get(&mut tx, who.user, c).await?;
    }
    let payload = JobPayload {
        params: body.value.params,
        ..JobPayload::default()
    };
    let mut job = penny_tools::runner::job(def, &payload);
    job.conversation_id = body.value.conversation_id;
    job.created_by = Some(who.user.0);
    job.idempotency_key = body.value.idempotency_key;
    let id = penny_queue::enqueue(&mut tx, job).await?;
    let change = Change {
        action: "tool.invoke",
        target_type: "tool",
        target_id: name.clone(),
        payload_sha256: Some(&body.sha256),
        details: json!({"jobId": id, "conversationId": body.value.conversation_id}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if !q.wait {
        return Ok((StatusCode::ACCEPTED, Json(json!({"jobId": id}))).into_response());
    }
    // Answer before the request timeout cuts the response off.
    let budget = state
        .settings
        .request_timeout
        .saturating_sub(Duration::from_secs(1))
        .min(def.timeout);
    wait_for(&state, &who, id, budget).await
}

async fn wait_for(
    state: &AppState,
    who: &Principal,
    id: JobId,
    budget: Duration,
) -> ApiResult<Response> {
    let job = state
        .tools
        .waiter
        .wait(&state.store, who.tenant, id, budget)
        .await?;
    if job.status.is_finished() {
        Ok(Json(JobView::from(job)).into_response())
    } else {
        Ok((StatusCode::ACCEPTED, Json(JobView::from(job))).into_response())
    }
}
