//! PENNY's HTTP surface: `/api/v1` handlers, authentication and rate-limit middleware,
//! problem+json errors, health/readiness and the OpenAPI document.
//!
//! Handlers speak HTTP and call `penny-store`; they never hold SQL.

mod access;
mod admin_health;
mod analytics;
mod api_keys;
mod artifacts;
mod audit;
mod auth;
mod chat;
mod client_ip;
mod conversations;
mod error;
mod extract;
mod files;
mod health;
mod invitations;
mod jobs;
mod knowledge;
mod layers;
mod limits;
mod models;
mod objects;
mod openapi;
mod policies;
mod profiles;
mod refresh_cookie;
mod sessions;
mod setup;
mod streams;
mod tenant_cache;
mod tenants;
mod themes;
mod tools;
mod trail;
mod url_fetch;
mod users;
mod web;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use penny_auth::TokenIssuer;
use penny_chat::Engine;
use penny_limits::Limiter;
use penny_store::Store;

pub use client_ip::TrustProxy;
pub use error::{ApiError, PROBLEM_JSON};
pub use extract::Principal;
pub use openapi::openapi_json;

use tenant_cache::TenantCache;

/// Settings the HTTP layer needs; the binary builds them from its typed config.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub version: &'static str,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    /// How long a login lasts at most, however often it is refreshed.
    pub login_max_age_days: i64,
    /// Origins allowed by CORS (`FRONTEND_URL`, comma separated). Empty: same origin only.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// Requests per minute per user or API key, unless the tenant sets its own.
    pub rate_limit_per_minute: u64,
    /// Requests per minute per IP address for unauthenticated calls.
    pub rate_limit_ip_per_minute: u64,
    /// Login attempts that may fail within `login_window`: per (account, IP) — the
    /// lockout a user meets —, per IP whatever the account, and per account from every
    /// IP together (the ceiling against distributed guessing; `penny admin unlock-login`
    /// lifts it).
    pub login_max_failures: u64,
    pub login_max_failures_per_ip: u64,
    pub login_max_failures_per_account: u64,
    /// Bad credentials (tokens, API keys) per IP per minute before the IP is refused.
    pub auth_max_failures_per_ip: u64,
    pub login_window: Duration,
    /// Which proxies may tell the client's address in `X-Forwarded-For`.
    pub trust_proxy: TrustProxy,
    /// Whether the refresh cookie is marked `Secure` (off only for plain-HTTP deployments
    /// reached by an address other than localhost).
    pub cookie_secure: bool,
    /// Event streams (WebSockets and SSE responses) one user may hold open per instance.
    pub max_streams_per_user: usize,
    /// Whether a Redis is configured (readiness reports it).
    pub redis_configured: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            login_max_age_days: 30,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            rate_limit_per_minute: 600,
            rate_limit_ip_per_minute: 300,
            login_max_failures: 5,
            login_max_failures_per_ip: 30,
            login_max_failures_per_account: 50,
            auth_max_failures_per_ip: 60,
            login_window: Duration::from_secs(900),
            trust_proxy: TrustProxy::None,
            cookie_secure: true,
            max_streams_per_user: 16,
            redis_configured: false,
        }
    }
}

/// What the tools, jobs, artifacts and files endpoints use.
pub struct ToolServices {
    pub registry: Arc<penny_tools::Registry>,
    pub objects: penny_objects::Objects,
    pub waiter: penny_queue::Waiter,
    /// Largest upload `POST /api/v1/files` accepts.
    pub upload_limit_bytes: usize,
    /// Signs short-lived download links (derived from the server's secret).
    pub link_key: Vec<u8>,
    /// How long a signed download link works.
    pub link_ttl: Duration,
    /// The sentence embedders for knowledge: the local model (or why it cannot work
    /// here) and the tenants' embedding models.
    pub embedders: penny_knowledge::Embedders,
    /// Fetches on a user's behalf (a document added by URL), under the outbound policy.
    pub outbound: penny_outbound::Outbound,
}

/// Shared by every handler; cheap to clone. Made inside the runtime: it starts the
/// listener for changes of access.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub engine: Engine,
    pub tokens: Arc<TokenIssuer>,
    pub limiter: Arc<dyn Limiter>,
    pub settings: Arc<ApiSettings>,
    pub tools: Arc<ToolServices>,
    tenants: Arc<TenantCache>,
    access: Arc<access::AccessCache>,
    profiles: Arc<profiles::Profiles>,
    streams: Arc<streams::StreamSlots>,
}

impl AppState {
    pub fn new(
        store: Store,
        engine: Engine,
        tokens: TokenIssuer,
        limiter: Arc<dyn Limiter>,
        settings: ApiSettings,
        tools: ToolServices,
    ) -> Self {
        let tenants = Arc::new(TenantCache::new(Duration::from_secs(5)));
        let access = Arc::new(access::AccessCache::new());
        let profiles = Arc::new(profiles::Profiles::default());
        access::listen(
            engine.bus().clone(),
            access.clone(),
            tenants.clone(),
            profiles.clone(),
        );
        let streams = streams::StreamSlots::new(settings.max_streams_per_user);
        Self {
            store,
            engine,
            tokens: Arc::new(tokens),
            limiter,
            settings: Arc::new(settings),
            tools: Arc::new(tools),
            tenants,
            access,
            profiles,
            streams,
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(sessions::routes())
        .merge(setup::routes())
        .merge(tenants::routes())
        .merge(users::routes())
        .merge(api_keys::routes())
        .merge(models::routes())
        .merge(conversations::routes())
        .merge(chat::routes())
        .merge(tools::routes())
        .merge(jobs::routes())
        .merge(artifacts::routes())
        .merge(knowledge::routes())
        .merge(analytics::routes())
        .merge(admin_health::routes())
        .merge(invitations::routes())
        .merge(policies::routes())
        .merge(themes::routes())
        .merge(audit::routes())
        .merge(openapi::routes())
        // JSON bodies are small; uploads (merged after) have their own, larger limit.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            state.settings.body_limit_bytes,
        ))
        .merge(files::routes(state.tools.upload_limit_bytes));
    let root = health::routes()
        .merge(openapi::docs())
        .merge(ws::routes())
        .merge(artifacts::link_routes());
    layers::wrap(api, root, state, true)
}

/// The WebSocket service alone (`--role ws` on `WS_PORT`): `/chat/:id`, `/ws/chat/:id`,
/// `/health` and `/ready`.
pub fn ws_router(state: AppState) -> Router {
    layers::wrap(
        Router::new(),
        health::routes().merge(ws::standalone_routes()),
        state,
        false,
    )
}

/// Only `/health` and `/ready`: for processes running just the worker or scheduler role.
pub fn health_router(state: AppState) -> Router {
    layers::wrap(Router::new(), health::routes(), state, false)
}
