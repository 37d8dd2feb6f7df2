//! Per-caller rate limits (the seed's edge rate limit, done in the service): per user,
//! per API key (which also spends its user's window), or per IP for anonymous calls; the tenant may set its own per-minute
//! limit. Answers carry `RateLimit-*` headers; refusals are 429 with `Retry-After`.

use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use penny_limits::Decision;

use crate::error::ApiError;
use crate::extract::{ClientMeta, Principal};
use crate::AppState;

const WINDOW: Duration = Duration::from_secs(60);

pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // An API key has its own window and also spends its user's: minting more keys buys
    // no more requests.
    let decision = match req.extensions().get::<Principal>() {
        Some(p) => spend(&state, p).await,
        None => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0);
            let meta = ClientMeta::from_parts(req.headers(), peer, &state.settings.trust_proxy);
            let ip = meta.ip_string().unwrap_or_else(|| "unknown".into());
            let limit = state.settings.rate_limit_ip_per_minute;
            hit_all(&state, &[format!("rq:ip:{ip}")], limit).await
        }
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let mut res = if decision.allowed {
        next.run(req).await
    } else {
        ApiError::RateLimited {
            retry_after: decision.reset_secs,
        }
        .into_response()
    };
    set_headers(res.headers_mut(), &decision);
    res
}

/// Spends one request of `p`'s windows (the user's and, for an API key, the key's): what
/// an HTTP request or a WebSocket frame costs.
pub(crate) async fn spend(state: &AppState, p: &Principal) -> Result<Decision, ApiError> {
    let tenant_limit = state.tenants.get(&state.store, p.tenant).await?;
    let limit = tenant_limit
        .rate_limit_per_minute
        .unwrap_or(state.settings.rate_limit_per_minute);
    hit_all(state, &p.limit_keys(), limit).await
}

/// Hits every window in `keys` (at least one); the answer is the window nearest its end,
/// or one that refused.
async fn hit_all(state: &AppState, keys: &[String], limit: u64) -> Result<Decision, ApiError> {
    let mut decision: Option<Decision> = None;
    for key in keys {
        let d = state.limiter.hit(key, limit, WINDOW).await?;
        if decision.is_none_or(|best| d.remaining < best.remaining || !d.allowed) {
            decision = Some(d);
        }
    }
    decision.ok_or_else(|| ApiError::Internal("no rate-limit window to spend".into()))
}

pub fn set_headers(h: &mut HeaderMap, d: &Decision) {
    h.insert("ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(d.reset_secs));
    if let Ok(v) = HeaderValue::from_str(&format!("{};w={}", d.limit, WINDOW.as_secs())) {
        h.insert("ratelimit-policy", v);
    }
}
