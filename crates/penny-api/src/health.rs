//! `/health` (liveness: no dependency calls, the seed's Railway check) and `/ready`
//! (each dependency's state; 503 when one required does not answer).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
}

/// Liveness: answers without touching any dependency.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: state.settings.version,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// Each dependency: `ok`, `unreachable` or `not configured`.
    database: &'static str,
    redis: &'static str,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: 200 when the database (and Redis, if configured) answer, else 503.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let db = tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await;
    let database = if matches!(db, Ok(Ok(()))) {
        "ok"
    } else {
        "unreachable"
    };
    let redis = if !state.settings.redis_configured {
        "not configured"
    } else if matches!(
        tokio::time::timeout(PROBE_TIMEOUT, state.limiter.ping()).await,
        Ok(Ok(()))
    ) {
        "ok"
    } else {
        "unreachable"
    };
    let up = database == "ok" && redis != "unreachable";
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if up { "ready" } else { "unavailable" },
            database,
            redis,
        }),
    )
}
