//! First-run set-up in the browser: while tenant `default` has no admin, the one-time link
//! `penny serve` printed (`/setup#<token>`) creates that admin, who is also the platform
//! super-admin, and logs them in. Public, like login; wrong tokens count against the
//! caller's IP like failed logins.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use penny_auth::digest;
use penny_store::users::NewUser;
use penny_store::{audit, setup, users, Email, Role, StoreError, TenantId, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload};
use crate::refresh_cookie::SessionMode;
use crate::sessions::{begin_login, TokenResponse};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/setup", get(status).post(finish))
}

/// Longest display name accepted.
const MAX_NAME: usize = 200;

fn done() -> ApiError {
    ApiError::Missing {
        code: "setup_done",
        detail: "this PENNY already has an administrator; sign in instead".into(),
    }
}

fn token_invalid() -> ApiError {
    ApiError::Denied {
        code: "setup_token_invalid",
        detail: "this set-up link is not valid; open the latest link `penny serve` printed \
            (each start prints one, and the 16 most recent work)"
            .into(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// True while tenant `default` has no admin: the set-up link is the way in.
    needed: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetupRequest {
    /// The token of the set-up link (the part after `#`).
    token: String,
    #[schema(example = "admin@example.com")]
    email: String,
    /// At least 8 characters.
    password: String,
    #[schema(example = "Ada Lovelace")]
    display_name: Option<String>,
}

/// Whether the platform still needs its first administrator.
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth",
    responses((status = 200, body = SetupStatus)))]
async fn status(State(state): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    let needed = setup::status(&state.store)
        .await?
        .is_some_and(|(_, needed)| needed);
    Ok(Json(SetupStatus { needed }))
}

/// Creates the first administrator of tenant `default` (a super-admin) with the set-up
/// link's token, which is then used up, and logs them in (the body of
/// `POST /api/v1/auth/login`).
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 200, body = TokenResponse),
        (status = 403, description = "setup_token_invalid"),
        (status = 404, description = "setup_done: an administrator exists"),
        (status = 409, description = "a user with this email exists"), (status = 422),
        (status = 429, description = "too many wrong tokens from this address")))]
async fn finish(
    State(state): State<AppState>,
    meta: ClientMeta,
    mode: SessionMode,
    body: Payload<SetupRequest>,
) -> ApiResult<Response> {
    let s = &state.settings;
    let ip_key = format!("setup:ip:{}", meta.ip_string().unwrap_or_default());
    let d = state
        .limiter
        .peek(&ip_key, s.login_max_failures_per_ip, s.login_window)
        .await?;
    if !d.allowed {
        return Err(ApiError::RateLimited {
            retry_after: d.reset_secs,
        });
    }
    match create_admin(&state, body.value, &meta).await {
        Err(e) if is_token_invalid(&e) => {
            state
                .limiter
                .hit(&ip_key, s.login_max_failures_per_ip, s.login_window)
                .await?;
            Err(e)
        }
        other => other.map(|tokens| mode.respond(&state, tokens)),
    }
}

fn is_token_invalid(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Denied {
            code: "setup_token_invalid",
            ..
        }
    )
}

async fn create_admin(
    state: &AppState,
    req: SetupRequest,
    meta: &ClientMeta,
) -> ApiResult<TokenResponse> {
    let Some((tenant, true)) = setup::status(&state.store).await? else {
        return Err(done());
    };
    // The token first: without it a caller learns nothing, and costs no password hash.
    if req.token.len() > 200 {
        return Err(token_invalid());
    }
    let token_digest = digest(&req.token);
    if !setup::is_current(state.store.pool(), &token_digest).await? {
        return Err(token_invalid());
    }
    let email = Email::parse(&req.email)?;
    let display_name = display_name(req.display_name)?;
    let password_hash = crate::users::hash(req.password).await?;
    let mut tx = state.store.tenant(tenant).await?;
    // Serialised with other set-ups; then the admin check and the token's use decide.
    setup::lock(&mut tx).await?;
    if setup::has_admin(&mut tx).await? {
        return Err(done());
    }
    if !setup::consume(&mut *tx, &token_digest).await? {
        return Err(token_invalid());
    }
    let user = users::create(
        &mut tx,
        tenant,
        NewUser {
            email: &email,
            role: Role::Admin,
            password_hash: Some(password_hash),
            display_name: Some(display_name),
            is_super_admin: true,
        },
    )
    .await?;
    record(&mut tx, tenant, &user, meta).await?;
    let tokens = begin_login(state, &mut tx, &user, meta).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(tokens)
}

/// The trimmed display name, `Administrator` when none is given.
fn display_name(raw: Option<String>) -> ApiResult<String> {
    let name = raw.as_deref().map(str::trim).unwrap_or_default();
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::validation(
            "displayName",
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    Ok(if name.is_empty() {
        "Administrator".into()
    } else {
        name.to_string()
    })
}

async fn record(
    tx: &mut TenantTx,
    tenant: TenantId,
    user: &users::User,
    meta: &ClientMeta,
) -> ApiResult<()> {
    let entry = audit::Entry {
        actor: Some(user.id),
        action: "platform.bootstrap",
        target_type: Some("user"),
        target_id: Some(user.id.to_string()),
        ip: meta.ip_string(),
        user_agent: meta.user_agent.clone(),
        details: json!({"email": user.email, "via": "setup"}),
        ..Default::default()
    };
    audit::append(tx, tenant, entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_defaults_and_is_bounded() {
        assert_eq!(display_name(None).unwrap(), "Administrator");
        assert_eq!(display_name(Some("  ".into())).unwrap(), "Administrator");
        assert_eq!(display_name(Some(" Ada ".into())).unwrap(), "Ada");
        let long = "x".repeat(MAX_NAME + 1);
        assert!(matches!(
            display_name(Some(long)),
            Err(ApiError::Validation { .. })
        ));
    }
}
