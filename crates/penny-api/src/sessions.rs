//! Login, refresh (rotation with reuse detection), logout and `GET /me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;
use penny_auth::{digest, new_refresh_token, verify_password};
use penny_store::sessions::{self, NewSession, Rotation};
use penny_store::users::User;
use penny_store::{audit, tenants, users, Email, StoreError, TenantId, TenantTx, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::users::UserView;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@example.com")]
    email: String,
    password: String,
    /// The tenant's slug.
    #[schema(example = "default")]
    tenant: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    token_type: &'static str,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

const BAD_LOGIN: ApiError = ApiError::Unauthenticated("email, password or tenant is wrong");

/// Exchanges email, password and tenant slug for an access and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "wrong credentials"),
              (status = 429, description = "too many failed attempts")))]
async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: Payload<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let req = body.value;
    let s = &state.settings;
    let account_key = format!(
        "login:acct:{}:{}",
        req.tenant.to_lowercase(),
        req.email.trim().to_lowercase()
    );
    let ip_key = format!("login:ip:{}", meta.ip_string().unwrap_or_default());
    for (key, max) in [
        (&account_key, s.login_max_failures),
        (&ip_key, s.login_max_failures_per_ip),
    ] {
        let d = state.limiter.peek(key, max, s.login_window).await?;
        if !d.allowed {
            return Err(ApiError::RateLimited {
                retry_after: d.reset_secs,
            });
        }
    }
    match check_credentials(&state, &req, &meta).await {
        Ok(tokens) => {
            state.limiter.reset(&account_key).await?;
            Ok(Json(tokens))
        }
        Err(e) => {
            if matches!(e, ApiError::Unauthenticated(_)) {
                state
                    .limiter
                    .hit(&account_key, s.login_max_failures, s.login_window)
                    .await?;
                state
                    .limiter
                    .hit(&ip_key, s.login_max_failures_per_ip, s.login_window)
                    .await?;
            }
            Err(e)
        }
    }
}

async fn check_credentials(
    state: &AppState,
    req: &LoginRequest,
    meta: &ClientMeta,
) -> ApiResult<TokenResponse> {
    let tenant = tenants::by_slug(state.store.pool(), &req.tenant.to_lowercase()).await?;
    let email = Email::parse(&req.email).ok();
    let (tenant, email) = match (tenant, email) {
        (Some(t), Some(e)) => (t, e),
        _ => {
            // Spend the same time as a real check, so the answer's timing reveals nothing.
            let pw = req.password.clone();
            let _ = tokio::task::spawn_blocking(move || verify_password(&pw, None)).await;
            return Err(BAD_LOGIN);
        }
    };
    let mut tx = state.store.tenant(tenant.id).await?;
    let creds = users::credentials(&mut tx, &email).await?;
    let stored = creds.as_ref().and_then(|c| c.password_hash.clone());
    let pw = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = creds.filter(|_| ok).map(|c| c.user) else {
        return Err(BAD_LOGIN);
    };
    if user.status != "active" {
        return Err(BAD_LOGIN);
    }
    if tenant.status != "active" {
        return Err(ApiError::TenantSuspended);
    }
    let tokens = begin_login(state, &mut tx, &user, meta).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(tokens)
}

/// Starts a login of `user` in `tx` (a new refresh family and its `auth.login` record) and
/// returns its tokens, which are good once the caller commits `tx`.
pub(crate) async fn begin_login(
    state: &AppState,
    tx: &mut TenantTx,
    user: &User,
    meta: &ClientMeta,
) -> ApiResult<TokenResponse> {
    let (refresh, refresh_digest) = new_refresh_token();
    let family = sessions::start(
        tx,
        NewSession {
            tenant: user.tenant_id,
            user: user.id,
            digest: &refresh_digest,
            ttl: Duration::days(state.settings.refresh_ttl_days),
            ip: meta.ip_string(),
            user_agent: meta.user_agent.clone(),
        },
    )
    .await?;
    audit::append(
        tx,
        user.tenant_id,
        audit::Entry {
            actor: Some(user.id),
            action: "auth.login",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            ip: meta.ip_string(),
            user_agent: meta.user_agent.clone(),
            ..Default::default()
        },
    )
    .await?;
    Ok(issue(
        state,
        user.id,
        user.tenant_id,
        user.role.as_str(),
        user.is_super_admin,
        family,
        refresh,
    ))
}

fn issue(
    state: &AppState,
    user: UserId,
    tenant: TenantId,
    role: &str,
    sa: bool,
    family: Uuid,
    refresh: String,
) -> TokenResponse {
    TokenResponse {
        access_token: state.tokens.issue(user.0, tenant.0, role, sa, family),
        refresh_token: refresh,
        expires_in: state.tokens.ttl_secs(),
        token_type: "Bearer",
    }
}

/// Rotates a refresh token. Presenting an already-used token ends that whole login.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid, expired or reused token")))]
async fn refresh(
    State(state): State<AppState>,
    body: Payload<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    const INVALID: ApiError =
        ApiError::Unauthenticated("refresh token is invalid or expired; log in again");
    let old = digest(&body.value.refresh_token);
    let tenant = sessions::tenant_of(state.store.pool(), &old)
        .await?
        .ok_or(INVALID)?;
    let (next, next_digest) = new_refresh_token();
    let mut tx = state.store.tenant(tenant).await?;
    let ttl = Duration::days(state.settings.refresh_ttl_days);
    match sessions::rotate(&mut tx, tenant, &old, &next_digest, ttl).await? {
        Rotation::Rotated { user, family } => {
            let u = users::by_id(&mut tx, user)
                .await?
                .filter(|u| u.status == "active")
                .ok_or(INVALID)?;
            tx.commit().await.map_err(StoreError::from)?;
            if !state.tenants.get(&state.store, tenant).await?.active {
                return Err(ApiError::TenantSuspended);
            }
            Ok(Json(issue(
                &state,
                u.id,
                tenant,
                u.role.as_str(),
                u.is_super_admin,
                family,
                next,
            )))
        }
        Rotation::Reused => {
            tx.commit().await.map_err(StoreError::from)?;
            tracing::warn!(tenant_id = %tenant, "refresh token reused; session family revoked");
            Err(ApiError::Unauthenticated(
                "refresh token was already used; this login has been ended everywhere, log in again",
            ))
        }
        Rotation::Invalid => Err(INVALID),
    }
}

/// Ends the caller's login: its refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "logged out")))]
async fn logout(State(state): State<AppState>, who: Principal) -> ApiResult<StatusCode> {
    if let Some(family) = who.session {
        let mut tx = state.store.tenant(who.tenant).await?;
        sessions::revoke_family(&mut tx, family).await?;
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    #[serde(flatten)]
    user: UserView,
    tenant: TenantRef,
    /// How the caller authenticated: `token` or `api_key`.
    auth: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct TenantRef {
    id: Uuid,
    slug: String,
    name: String,
}

/// The caller, their role and tenant.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401)))]
async fn me(State(state): State<AppState>, who: Principal) -> ApiResult<Json<MeResponse>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let user = users::by_id(&mut tx, who.user)
        .await?
        .ok_or(ApiError::Unauthenticated("this user no longer exists"))?;
    let tenant = tenants::by_id(&mut *tx, who.tenant)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(MeResponse {
        user: user.into(),
        tenant: TenantRef {
            id: tenant.id.0,
            slug: tenant.slug,
            name: tenant.name,
        },
        auth: if who.api_key.is_some() {
            "api_key"
        } else {
            "token"
        },
    }))
}
