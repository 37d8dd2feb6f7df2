//! Login, refresh (rotation with reuse detection), logout and `GET /me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;
use penny_auth::{digest, new_refresh_token, verify_password};
use penny_store::sessions::{self, NewSession, Rotation};
use penny_store::users::User;
use penny_store::{audit, tenants, users, Email, Slug, StoreError, TenantId, TenantTx, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::refresh_cookie::SessionMode;
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
    /// Absent when it was set as the `penny_refresh` cookie (`X-Penny-Session: cookie`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    /// Seconds until the access token expires.
    expires_in: i64,
    token_type: &'static str,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token; may be left out with `X-Penny-Session: cookie`, which presents
    /// the `penny_refresh` cookie instead.
    #[serde(default)]
    refresh_token: Option<String>,
}

const BAD_LOGIN: ApiError = ApiError::Unauthenticated("email, password or tenant is wrong");

/// Exchanges email, password and tenant slug for an access and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "wrong credentials"),
              (status = 429, description = "too many failed attempts")))]
async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    mode: SessionMode,
    body: Payload<LoginRequest>,
) -> ApiResult<Response> {
    let req = body.value;
    let ip = meta.ip_string().unwrap_or_else(|| "unknown".into());
    let mut counted = Attempt::new(&state);
    counted
        .count(
            format!("login:ip:{ip}"),
            state.settings.login_max_failures_per_ip,
        )
        .await?;
    // Limiter keys are built only from a valid slug and e-mail address (bounded, one
    // spelling); anything else cannot name an account and is refused like a bad password.
    let parsed = (
        Slug::parse(&req.tenant.trim().to_lowercase()).ok(),
        Email::parse(&req.email).ok(),
    );
    let (Some(slug), Some(email)) = parsed else {
        spend_a_password_check(&req.password).await;
        return Err(BAD_LOGIN);
    };
    let tenant = tenants::by_slug(state.store.pool(), slug.as_str()).await?;
    let mut found = None;
    if let Some(tenant) = tenant {
        let mut tx = state.store.tenant(tenant.id).await?;
        let creds = users::credentials(&mut tx, &email).await?;
        found = Some((tenant, tx, creds));
    }
    let generation = found
        .as_ref()
        .and_then(|(_, _, c)| c.as_ref())
        .map_or(0, |c| c.login_unlock_gen);
    let account = format!(
        "login:acct:{}:{}:{generation}",
        slug.as_str(),
        email.as_str()
    );
    counted
        .count(
            format!("{account}:ip:{ip}"),
            state.settings.login_max_failures,
        )
        .await?;
    counted
        .count(account, state.settings.login_max_failures_per_account)
        .await?;
    let Some((tenant, mut tx, creds)) = found else {
        spend_a_password_check(&req.password).await;
        return Err(BAD_LOGIN);
    };
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
    // The right password: this attempt was no guess.
    counted.succeeded().await?;
    if tenant.status != "active" {
        return Err(ApiError::TenantSuspended);
    }
    let tokens = begin_login(&state, &mut tx, &user, &meta).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(mode.respond(&state, tokens))
}

/// One login attempt, counted against each of its failure windows *before* the password
/// is checked (so parallel guesses cannot all pass a peek), and taken back when it turns
/// out right.
struct Attempt<'a> {
    state: &'a AppState,
    /// Keys hit so far; the first is the (account, IP) lockout once the account is known.
    keys: Vec<String>,
}

impl<'a> Attempt<'a> {
    fn new(state: &'a AppState) -> Self {
        Attempt {
            state,
            keys: Vec::new(),
        }
    }

    /// Counts the attempt in `key`'s window; over `max`, it is refused and the windows
    /// counted before are given their hit back (a refused attempt checks no password, so
    /// it must not lock anyone else out: a client locked on its own IP cannot push the
    /// account's global ceiling).
    async fn count(&mut self, key: String, max: u64) -> ApiResult<()> {
        let window = self.state.settings.login_window;
        let d = self.state.limiter.hit(&key, max, window).await?;
        if d.allowed {
            self.keys.push(key);
            return Ok(());
        }
        for earlier in &self.keys {
            self.state.limiter.forgive(earlier).await?;
        }
        Err(ApiError::RateLimited {
            retry_after: d.reset_secs,
        })
    }

    /// The password was right: the account's own lockout from this IP starts afresh, the
    /// shared windows get this attempt back.
    async fn succeeded(self) -> ApiResult<()> {
        for key in &self.keys {
            if key.starts_with("login:acct:") && key.contains(":ip:") {
                self.state.limiter.reset(key).await?;
            } else {
                self.state.limiter.forgive(key).await?;
            }
        }
        Ok(())
    }
}

/// Spends the time of a real password check, so the answer's timing reveals nothing.
async fn spend_a_password_check(password: &str) {
    let pw = password.to_string();
    let _ = tokio::task::spawn_blocking(move || verify_password(&pw, None)).await;
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
            max_age: Duration::days(state.settings.login_max_age_days),
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
        refresh_token: Some(refresh),
        expires_in: state.tokens.ttl_secs(),
        token_type: "Bearer",
    }
}

/// Rotates a refresh token. Presenting an already-used token ends that whole login.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid, expired or reused token")))]
async fn refresh(
    State(state): State<AppState>,
    mode: SessionMode,
    body: Payload<RefreshRequest>,
) -> ApiResult<Response> {
    const INVALID: ApiError =
        ApiError::Unauthenticated("refresh token is invalid or expired; log in again");
    let presented = mode
        .token(body.value.refresh_token)
        .ok_or(ApiError::Unauthenticated(
            "no refresh token: send refresh_token, or the cookie with X-Penny-Session: cookie",
        ))?;
    let old = digest(&presented);
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
            let tokens = issue(
                &state,
                u.id,
                tenant,
                u.role.as_str(),
                u.is_super_admin,
                family,
                next,
            );
            Ok(mode.respond(&state, tokens))
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
async fn logout(
    State(state): State<AppState>,
    mode: SessionMode,
    who: Principal,
) -> ApiResult<Response> {
    if let Some(family) = who.session {
        let mut tx = state.store.tenant(who.tenant).await?;
        sessions::revoke_family(&mut tx, family).await?;
        tx.commit().await.map_err(StoreError::from)?;
        crate::access::changed(&state, who.tenant, Some(who.user)).await;
    }
    Ok(mode.clear(&state, StatusCode::NO_CONTENT.into_response()))
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
    // From the profile cache: no database round trip on most calls.
    let p = state
        .profiles
        .get(&state.store, who.tenant, who.user)
        .await?;
    Ok(Json(MeResponse {
        user: p.user.clone().into(),
        tenant: TenantRef {
            id: who.tenant.0,
            slug: p.tenant_slug.clone(),
            name: p.tenant_name.clone(),
        },
        auth: if who.api_key.is_some() {
            "api_key"
        } else {
            "token"
        },
    }))
}
