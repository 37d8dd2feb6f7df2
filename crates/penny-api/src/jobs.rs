//! Jobs: one job's state (the caller's own, or any for managers and admins) and the job
//! counts per queue (`getJobCounts()` of the original design) for admins.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_queue::{Job, JobId};
use penny_store::{Role, StoreError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::AppState;

/// The queues PENNY runs.
pub const QUEUES: [&str; 2] = ["tools", "notifications"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs/{id}", get(one))
        .route("/admin/queues", get(queues))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    id: Uuid,
    /// The tool (or task) the job runs.
    tool: String,
    /// waiting | active | completed | failed | delayed
    status: String,
    #[schema(value_type = Option<Object>)]
    progress: Option<Value>,
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    error: Option<String>,
    attempts: i32,
    max_attempts: i32,
    conversation_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        JobView {
            id: j.id.0,
            tool: j.name,
            status: j.status.as_str().to_string(),
            progress: j.progress,
            result: j.result,
            error: j.error,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            conversation_id: j.conversation_id,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

/// One job: its state, progress, result or error, and attempts.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "tools", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = JobView), (status = 404)))]
async fn one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<JobView>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let job = penny_queue::get(&mut tx, JobId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    // Someone else's job is as absent as another tenant's.
    if job.created_by != Some(who.user.0) && !who.role.at_least(Role::Manager) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(job.into()))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    name: &'static str,
    waiting: i64,
    active: i64,
    completed: i64,
    failed: i64,
    delayed: i64,
}

/// Job counts per state for each queue of the tenant (managers and admins).
#[utoipa::path(get, path = "/api/v1/admin/queues", extensions(("x-penny-role" = json!("manager"))), tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [QueueCounts]), (status = 403)))]
async fn queues(
    State(state): State<AppState>,
    who: Principal,
) -> ApiResult<Json<Vec<QueueCounts>>> {
    who.require(Role::Manager)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let mut out = Vec::with_capacity(QUEUES.len());
    for name in QUEUES {
        let c = penny_queue::counts(&mut tx, name).await?;
        out.push(QueueCounts {
            name,
            waiting: c.waiting,
            active: c.active,
            completed: c.completed,
            failed: c.failed,
            delayed: c.delayed,
        });
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(out))
}
