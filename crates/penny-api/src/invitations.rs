//! Invitation and password-reset links, used without being logged in: show what a link
//! is for, and accept it by choosing a password (which logs the user in). A link works
//! once; an unknown, used, revoked or expired one is `404 invite_invalid`. The token travels
//! in request bodies and in the web page's fragment (`/invite#<token>`), never in a path,
//! so it lands in no access log.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_auth::{digest, new_refresh_token};
use penny_store::invitations::{self, Pending};
use penny_store::users::{self, Changes};
use penny_store::{api_keys, audit, sessions, tenants, StoreError, TenantId, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload};
use crate::refresh_cookie::SessionMode;
use crate::sessions::{begin_login, TokenResponse};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/invitations/inspect", post(show))
        .route("/invitations/accept", post(accept))
}

/// Invitation and reset tokens start with this, so they are recognisable in logs.
const TOKEN_PREFIX: &str = "inv_";

/// A new link token and the digest to store. The randomness and the hashing are the
/// refresh tokens' own; only the prefix differs.
pub(crate) fn new_link_token() -> (String, Vec<u8>) {
    let (refresh, _) = new_refresh_token();
    let random = refresh.split_once('_').map_or(refresh.as_str(), |(_, r)| r);
    let token = format!("{TOKEN_PREFIX}{random}");
    let d = digest(&token);
    (token, d)
}

/// The web app's page for a link: the token in the fragment, which browsers never send.
pub(crate) fn invite_url(token: &str) -> String {
    format!("/invite#{token}")
}

fn invalid() -> ApiError {
    ApiError::Missing {
        code: "invite_invalid",
        detail: "this link is unknown, already used or expired; ask an admin for a new one".into(),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    email: String,
    tenant_name: String,
    tenant_slug: String,
    /// `invite` (first password) or `reset` (new password).
    #[schema(example = "invite")]
    purpose: &'static str,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The link's token (`inv_…`).
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The link's token (`inv_…`).
    token: String,
    /// The new password (at least 8 characters).
    password: String,
}

/// The tenant that issued `token`, and a transaction in it; `invite_invalid` when unknown.
async fn open(state: &AppState, token: &str) -> ApiResult<(TenantId, Vec<u8>, TenantTx)> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(invalid());
    }
    let d = digest(token);
    let tenant = invitations::tenant_of(state.store.pool(), &d)
        .await?
        .ok_or_else(invalid)?;
    let tx = state.store.tenant(tenant).await?;
    Ok((tenant, d, tx))
}

/// What a link is for, and for whom.
#[utoipa::path(post, path = "/api/v1/invitations/inspect", tag = "users", request_body = LinkBody,
    responses((status = 200, body = InvitationView), (status = 404, description = "invite_invalid")))]
async fn show(
    State(state): State<AppState>,
    body: Payload<LinkBody>,
) -> ApiResult<Json<InvitationView>> {
    let (tenant_id, d, mut tx) = open(&state, &body.value.token).await?;
    let link = invitations::pending(&mut tx, &d, false)
        .await?
        .ok_or_else(invalid)?;
    let tenant = tenants::by_id(&mut *tx, tenant_id)
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(InvitationView {
        email: link.email,
        tenant_name: tenant.name,
        tenant_slug: tenant.slug,
        purpose: link.purpose.as_str(),
        expires_at: link.expires_at,
    }))
}

/// Sets the user's password from a link and logs them in (the body of
/// `POST /api/v1/auth/login`). The link stops working; the user's other sessions end.
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "users", request_body = AcceptBody,
    responses((status = 200, body = TokenResponse), (status = 403, description = "tenant_suspended"),
        (status = 404, description = "invite_invalid"), (status = 422)))]
async fn accept(
    State(state): State<AppState>,
    meta: ClientMeta,
    mode: SessionMode,
    body: Payload<AcceptBody>,
) -> ApiResult<Response> {
    let AcceptBody { token, password } = body.value;
    // Check the link before spending a password hash on it (without holding a
    // connection while hashing).
    let (tenant_id, d, mut tx) = open(&state, &token).await?;
    invitations::pending(&mut tx, &d, false)
        .await?
        .ok_or_else(invalid)?;
    let tenant = tenants::by_id(&mut *tx, tenant_id)
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await.map_err(StoreError::from)?;
    if tenant.status != "active" {
        return Err(ApiError::TenantSuspended);
    }
    let password_hash = crate::users::hash(password).await?;
    let mut tx = state.store.tenant(tenant_id).await?;
    // The row lock makes a second, concurrent use of the same link wait, then fail.
    let link = invitations::pending(&mut tx, &d, true)
        .await?
        .ok_or_else(invalid)?;
    if !invitations::consume(&mut tx, link.id).await? {
        return Err(invalid());
    }
    let changes = Changes {
        password_hash: Some(password_hash),
        ..Changes::default()
    };
    let user = users::update(&mut tx, link.user, changes).await?;
    sessions::revoke_user(&mut tx, user.id).await?;
    // Whoever knew the old password may have made keys with it.
    api_keys::revoke_user(&mut tx, user.id).await?;
    record_accept(&mut tx, tenant_id, &link, &meta).await?;
    let tokens = begin_login(&state, &mut tx, &user, &meta).await?;
    tx.commit().await.map_err(StoreError::from)?;
    crate::access::changed(&state, tenant_id, Some(user.id)).await;
    Ok(mode.respond(&state, tokens))
}

async fn record_accept(
    tx: &mut TenantTx,
    tenant: TenantId,
    link: &Pending,
    meta: &ClientMeta,
) -> ApiResult<()> {
    let entry = audit::Entry {
        actor: Some(link.user),
        action: "user.invite_accept",
        target_type: Some("user"),
        target_id: Some(link.user.to_string()),
        ip: meta.ip_string(),
        user_agent: meta.user_agent.clone(),
        details: json!({"purpose": link.purpose.as_str()}),
        ..Default::default()
    };
    audit::append(tx, tenant, entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_are_prefixed_random_and_hashed() {
        let (a, da) = new_link_token();
        let (b, _) = new_link_token();
        assert_ne!(a, b);
        assert!(a.starts_with("inv_"), "{a}");
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 48);
        assert_eq!(digest(&a), da);
        assert_eq!(invite_url("inv_x"), "/invite#inv_x");
    }
}
