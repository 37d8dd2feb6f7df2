//! Resolves the caller's credential once per request: an HS256 access token or a `pk_`
//! API key in `Authorization: Bearer …`. A bad credential is refused outright rather
//! than treated as anonymous.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use penny_auth::{digest, TokenError, API_KEY_PREFIX};
use penny_store::{api_keys, audit, users, TenantId, UserId};

use crate::error::ApiError;
use crate::extract::{ClientMeta, Principal};
use crate::AppState;

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    if let Some(route) = req.extensions().get::<MatchedPath>() {
        span.record("route", route.as_str());
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        });
    let principal = match bearer {
        None => None,
        Some(None) => {
            return ApiError::Unauthenticated("Authorization must be `Bearer <token or API key>`")
                .into_response()
        }
        Some(Some(token)) => {
            let meta = request_meta(&state, &req);
            match resolve_counted(&state, token, &meta).await {
                Ok(p) => Some(p),
                Err(e) => return e.into_response(),
            }
        }
    };
    if let Some(p) = principal {
        span.record("tenant_id", tracing::field::display(p.tenant));
        span.record("user_id", tracing::field::display(p.user));
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

fn request_meta(state: &AppState, req: &Request) -> ClientMeta {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    ClientMeta::from_parts(req.headers(), peer, &state.settings.trust_proxy)
}

const EXPIRED: &str = "access token has expired; refresh it";
/// The login the token came from ended (logout, deactivation, password reset).
const ENDED: &str = "this login has ended; log in again";

/// Resolves a credential, counting bad ones against the caller's IP: past
/// `auth_max_failures_per_ip` a minute, the IP is refused before any lookup, so guessing
/// API keys or forging tokens costs the guesser, not the database. An expired token is a
/// genuine one, not a guess, and is not counted.
async fn resolve_counted(
    state: &AppState,
    token: &str,
    meta: &ClientMeta,
) -> Result<Principal, ApiError> {
    let key = format!(
        "authfail:ip:{}",
        meta.ip_string().unwrap_or_else(|| "unknown".into())
    );
    let max = state.settings.auth_max_failures_per_ip;
    let window = std::time::Duration::from_secs(60);
    let seen = state.limiter.peek(&key, max, window).await?;
    if !seen.allowed {
        return Err(ApiError::RateLimited {
            retry_after: seen.reset_secs,
        });
    }
    let resolved = resolve_with(state, token, meta).await;
    if matches!(resolved, Err(ApiError::Unauthenticated(m)) if m != EXPIRED && m != ENDED) {
        state.limiter.hit(&key, max, window).await?;
    }
    resolved
}

/// Resolves a bearer credential; an API key's use is audited without client details.
pub(crate) async fn resolve(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let meta = ClientMeta {
        ip: None,
        user_agent: None,
    };
    resolve_with(state, token, &meta).await
}

async fn resolve_with(
    state: &AppState,
    token: &str,
    meta: &ClientMeta,
) -> Result<Principal, ApiError> {
    let principal = if token.starts_with(API_KEY_PREFIX) {
        from_api_key(state, token, meta).await?
    } else {
        let claims = state.tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::Unauthenticated(EXPIRED),
            TokenError::Invalid => ApiError::Unauthenticated("access token is invalid"),
        })?;
        let (user, tenant) = (UserId(claims.sub), TenantId(claims.tid));
        // The token says who; whether they still may, and as what, is today's answer.
        let access = state
            .access
            .get(&state.store, tenant, user, claims.sid)
            .await?
            .filter(|a| a.active && a.live)
            .ok_or(ApiError::Unauthenticated(ENDED))?;
        Principal {
            user,
            tenant,
            role: access.role,
            super_admin: access.is_super_admin,
            session: Some(claims.sid),
            api_key: None,
        }
    };
    if !state
        .tenants
        .get(&state.store, principal.tenant)
        .await?
        .active
    {
        return Err(ApiError::TenantSuspended);
    }
    Ok(principal)
}

async fn from_api_key(
    state: &AppState,
    key: &str,
    meta: &ClientMeta,
) -> Result<Principal, ApiError> {
    const BAD_KEY: ApiError = ApiError::Unauthenticated("API key is invalid or revoked");
    let d = digest(key);
    let tenant = api_keys::tenant_of(state.store.pool(), &d)
        .await?
        .ok_or(BAD_KEY)?;
    let mut tx = state.store.tenant(tenant).await?;
    let found = api_keys::authenticate(&mut tx, &d).await?.ok_or(BAD_KEY)?;
    let user = users::by_id(&mut tx, found.user_id).await?.ok_or(BAD_KEY)?;
    if user.status != "active" {
        return Err(BAD_KEY);
    }
    // At most one record per key and hour, written with the use it records.
    audit::api_key_use(
        &mut tx,
        tenant,
        found.id,
        user.id,
        meta.ip_string(),
        meta.user_agent.clone(),
    )
    .await?;
    tx.commit().await.map_err(penny_store::StoreError::from)?;
    Ok(Principal {
        user: user.id,
        tenant,
        role: user.role,
        super_admin: user.is_super_admin,
        session: None,
        api_key: Some(found.id),
    })
}
