//! `GET /api/v1/admin/health`: the platform as the admin console sees it — each
//! dependency's state and latency, the `penny serve` instances and whether they are
//! alive, and the tenant's queues and latest failed jobs.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_store::instances::{self, Instance};
use penny_store::{Role, StoreError};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::jobs::QUEUES;
use crate::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Failed jobs listed.
const RECENT_FAILED: i64 = 20;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/health", get(health))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `database`, `redis`, `objects`, `workers` or `scheduler`.
    name: &'static str,
    ok: bool,
    /// How long the probe took; `null` for checks that are not a call.
    latency_ms: Option<f64>,
    detail: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    id: Uuid,
    /// The machine's host name; only the super-admin sees it (`null` for others).
    host: Option<String>,
    /// `api`, `ws`, `worker`, `scheduler`.
    roles: Vec<String>,
    version: String,
    started_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    /// Seen in the last 30 seconds.
    alive: bool,
}

impl InstanceView {
    /// The instance as `who` may see it: where the platform runs is the operator's
    /// business, not a tenant's.
    fn for_caller(i: Instance, who: &Principal) -> Self {
        InstanceView {
            id: i.id,
            host: who.super_admin.then_some(i.host),
            roles: i.roles,
            version: i.version,
            started_at: i.started_at,
            last_seen_at: i.last_seen_at,
            alive: i.alive,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    queue: &'static str,
    waiting: i64,
    active: i64,
    delayed: i64,
    completed: i64,
    failed: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedJob {
    id: Uuid,
    queue: String,
    /// The tool (or task) the job ran.
    tool: String,
    error: Option<String>,
    attempts: i32,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// `ok` when every check passes, else `degraded`.
    status: &'static str,
    checks: Vec<Check>,
    instances: Vec<InstanceView>,
    /// The caller's tenant's jobs per queue and state.
    queues: Vec<QueueView>,
    /// The caller's tenant's latest jobs that failed for good, newest first.
    recent_failed_jobs: Vec<FailedJob>,
}

/// Health of the platform and of the tenant's queues (managers and admins).
#[utoipa::path(get, path = "/api/v1/admin/health", extensions(("x-penny-role" = json!("manager"))), tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = HealthView), (status = 403)))]
async fn health(State(state): State<AppState>, who: Principal) -> ApiResult<Json<HealthView>> {
    who.require(Role::Manager)?;
    let mut checks = Vec::new();
    let (db_ok, db_ms) = probe(state.store.ping()).await;
    checks.push(Check {
        name: "database",
        ok: db_ok,
        latency_ms: Some(db_ms),
        detail: if db_ok {
            "PostgreSQL answers".into()
        } else {
            "PostgreSQL does not answer".into()
        },
    });
    checks.push(if state.settings.redis_configured {
        let (ok, ms) = probe(state.limiter.ping()).await;
        Check {
            name: "redis",
            ok,
            latency_ms: Some(ms),
            detail: if ok {
                "Redis answers".into()
            } else {
                "Redis does not answer: rate limits and live events across instances fail".into()
            },
        }
    } else {
        Check {
            name: "redis",
            ok: true,
            latency_ms: None,
            detail: "not configured: limits and live events stay within each instance".into(),
        }
    });
    let (objects_ok, objects_ms) = probe(state.tools.objects.check()).await;
    checks.push(Check {
        name: "objects",
        ok: objects_ok,
        latency_ms: Some(objects_ms),
        detail: match (objects_ok, who.super_admin) {
            (true, true) => format!(
                "object storage at {} answers",
                state.tools.objects.location()
            ),
            (false, true) => format!(
                "object storage at {} is unavailable",
                state.tools.objects.location()
            ),
            (true, false) => "object storage answers".into(),
            (false, false) => "object storage is unavailable".into(),
        },
    });

    let (instances, queues, failed) = if db_ok {
        tenant_state(&state, &who).await?
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    for (name, role, without) in [
        (
            "workers",
            "worker",
            "no worker instance is alive: tool jobs wait",
        ),
        (
            "scheduler",
            "scheduler",
            "no scheduler instance is alive: runs of a stopped instance stay unfinished",
        ),
    ] {
        let alive = instances
            .iter()
            .filter(|i| i.alive && i.roles.iter().any(|r| r == role))
            .count();
        checks.push(Check {
            name,
            ok: alive > 0,
            latency_ms: None,
            detail: if alive > 0 {
                format!("{alive} alive instance(s) run the {role} role")
            } else {
                without.into()
            },
        });
    }
    let status = if checks.iter().all(|c| c.ok) {
        "ok"
    } else {
        "degraded"
    };
    Ok(Json(HealthView {
        status,
        checks,
        instances: instances
            .into_iter()
            .map(|i| InstanceView::for_caller(i, &who))
            .collect(),
        queues,
        recent_failed_jobs: failed,
    }))
}

/// Runs a probe with a timeout; whether it answered and how long it took (ms).
async fn probe<T, E>(call: impl Future<Output = Result<T, E>>) -> (bool, f64) {
    let began = Instant::now();
    let ok = matches!(tokio::time::timeout(PROBE_TIMEOUT, call).await, Ok(Ok(_)));
    let ms = began.elapsed().as_secs_f64() * 1000.0;
    (ok, (ms * 10.0).round() / 10.0)
}

type TenantState = (Vec<Instance>, Vec<QueueView>, Vec<FailedJob>);

async fn tenant_state(state: &AppState, who: &Principal) -> Result<TenantState, ApiError> {
    let instances = instances::list(state.store.pool()).await?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let mut queues = Vec::with_capacity(QUEUES.len());
    for queue in QUEUES {
        let c = penny_queue::counts(&mut tx, queue).await?;
        queues.push(QueueView {
            queue,
            waiting: c.waiting,
            active: c.active,
            delayed: c.delayed,
            completed: c.completed,
            failed: c.failed,
        });
    }
    let failed = penny_queue::recent_failed(&mut tx, RECENT_FAILED)
        .await?
        .into_iter()
        .map(|j| FailedJob {
            id: j.id.0,
            queue: j.queue,
            tool: j.name,
            error: j.error,
            attempts: j.attempts,
            finished_at: j.finished_at,
        })
        .collect();
    tx.commit().await.map_err(StoreError::from)?;
    Ok((instances, queues, failed))
}
