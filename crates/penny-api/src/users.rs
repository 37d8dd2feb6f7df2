//! Users of the caller's tenant: admins and managers manage them. No one acts on a user whose
//! role is above their own or grants a role above their own; only the super-admin acts on
//! the super-admin's account; the last active admin cannot be removed or demoted (checked
//! under a per-tenant lock, so two concurrent requests cannot both pass).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use penny_auth::hash_password;
use penny_store::invitations::{self, NewLink, Purpose};
use penny_store::users::{self, Changes, NewUser, User};
use penny_store::{api_keys, sessions, Email, Role, StoreError, TenantTx, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::invitations::{invite_url, new_link_token};
use crate::trail::{self, Change};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show).patch(update).delete(remove))
        .route("/users/invite", post(invite))
        .route("/users/{id}/reset-link", post(reset_link))
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    display_name: Option<String>,
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Role,
    is_super_admin: bool,
    /// `active` or `deactivated`.
    status: String,
    /// No password yet: the invite link has not been used.
    invited: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id.0,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            is_super_admin: u.is_super_admin,
            status: u.status,
            invited: u.invited,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Role,
    /// Optional: without one the user cannot log in until a password is set.
    #[schema(min_length = 8, max_length = 1024)]
    password: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Option<Role>,
    display_name: Option<String>,
    /// `active` or `deactivated`.
    #[schema(pattern = "^(active|deactivated)$")]
    status: Option<String>,
    /// A new password (an admin's reset); ends the user's sessions.
    #[schema(min_length = 8, max_length = 1024)]
    password: Option<String>,
}

fn manage(who: &Principal) -> ApiResult<()> {
    who.require(Role::Manager)
}

/// The one rule for acting on a user's account (role, status, password, reset link,
/// deletion): only the super-admin acts on the super-admin's account, no one acts on a user
/// whose role is above their own, and no one grants a role above their own.
fn may_act_on(who: &Principal, target: Option<&User>, new_role: Option<Role>) -> ApiResult<()> {
    if let Some(t) = target {
        if t.is_super_admin && !who.super_admin {
            return Err(ApiError::Forbidden(
                "only the super-admin may change the super-admin's account",
            ));
        }
        if t.role > who.role {
            return Err(ApiError::Forbidden(
                "you cannot manage a user whose role is above yours",
            ));
        }
    }
    if new_role.is_some_and(|r| r > who.role) {
        return Err(ApiError::Forbidden(
            "you cannot grant a role above your own",
        ));
    }
    Ok(())
}

pub(crate) async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::validation("password", e.to_string()))
}

/// Users of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/users", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), (status = 403)))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<UserView>>> {
    manage(&who)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let all = users::list(&mut tx).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all.into_iter().map(UserView::from).collect()))
}

/// Adds a user to the caller's tenant.
#[utoipa::path(post, path = "/api/v1/users", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    manage(&who)?;
    let req = body.value;
    let (mut tx, user) = add_user(
        &state,
        &who,
        &req.email,
        req.role,
        req.password,
        req.display_name,
    )
    .await?;
    let change = Change {
        action: "user.create",
        target_type: "user",
        target_id: user.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"email": user.email, "role": user.role}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// What `create` and `invite` share: checks the caller may grant `role`, parses the email,
/// hashes the password (if any, before the transaction opens: hashing is slow) and adds the
/// user in a new transaction, which the caller audits and commits.
async fn add_user(
    state: &AppState,
    who: &Principal,
    email: &str,
    role: Role,
    password: Option<String>,
    display_name: Option<String>,
) -> ApiResult<(TenantTx, User)> {
    may_act_on(who, None, Some(role))?;
    let email = Email::parse(email)?;
    let password_hash = match password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let user = users::create(
        &mut tx,
        who.tenant,
        NewUser {
            email: &email,
            role,
            password_hash,
            display_name,
            is_super_admin: false,
        },
    )
    .await?;
    Ok((tx, user))
}

async fn find(tx: &mut TenantTx, id: Uuid) -> ApiResult<User> {
    users::by_id(tx, UserId(id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// One user of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/users/{id}", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = UserView), (status = 404)))]
async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    manage(&who)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let user = find(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(user.into()))
}

/// Ensures the tenant keeps an active admin after `target` stops being one. Takes the
/// tenant's admin lock first (held to commit) and re-reads the target under it: two
/// requests demoting the last two admins at once are serialised, and the second sees the
/// first's change.
async fn keep_an_admin(tx: &mut TenantTx, target: &User) -> ApiResult<()> {
    users::lock_admins(tx).await?;
    let current = find(tx, target.id.0).await?;
    if current.role == Role::Admin
        && current.status == "active"
        && users::count_with_role(tx, Role::Admin).await? <= 1
    {
        return Err(ApiError::Conflict(
            "the tenant's last active admin cannot be removed or demoted".into(),
        ));
    }
    Ok(())
}

/// Changes a user's role, name, status or password.
#[utoipa::path(patch, path = "/api/v1/users/{id}", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403), (status = 404), (status = 409)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    manage(&who)?;
    let req = body.value;
    let password_hash = match req.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let target = find(&mut tx, id).await?;
    may_act_on(&who, Some(&target), req.role)?;
    let demoted = req.role.is_some_and(|r| r != Role::Admin);
    let deactivated = req.status.as_deref() == Some("deactivated");
    if demoted || deactivated {
        keep_an_admin(&mut tx, &target).await?;
    }
    let reset = password_hash.is_some();
    let ends_sessions = deactivated || reset;
    let details = json!({"role": req.role, "status": req.status, "display_name": req.display_name,
        "password_reset": password_hash.is_some()});
    let changes = Changes {
        role: req.role,
        display_name: req.display_name,
        status: req.status,
        password_hash,
    };
    let user = users::update(&mut tx, target.id, changes).await?;
    if ends_sessions {
        sessions::revoke_user(&mut tx, user.id).await?;
    }
    if reset {
        // Whoever knew the old password may have made keys with it.
        api_keys::revoke_user(&mut tx, user.id).await?;
    }
    let change = Change {
        action: "user.update",
        target_type: "user",
        target_id: user.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details,
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    // Every change is announced: access ends at once when it should, and `/me` shows
    // the new name everywhere (`profiles`).
    crate::access::changed(&state, who.tenant, Some(user.id)).await;
    Ok(Json(user.into()))
}

/// Deletes a user, their sessions and API keys.
#[utoipa::path(delete, path = "/api/v1/users/{id}", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn remove(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    manage(&who)?;
    if who.user.0 == id {
        return Err(ApiError::Conflict("you cannot delete yourself".into()));
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    let target = find(&mut tx, id).await?;
    may_act_on(&who, Some(&target), None)?;
    keep_an_admin(&mut tx, &target).await?;
    users::delete(&mut tx, target.id).await?;
    let change = Change {
        action: "user.delete",
        target_type: "user",
        target_id: target.id.to_string(),
        payload_sha256: None,
        details: json!({"email": target.email}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    crate::access::changed(&state, who.tenant, Some(target.id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// How long an invitation or reset link works.
const LINK_TTL_DAYS: i64 = 7;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteUser {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Role,
    display_name: Option<String>,
}

/// A one-time link: the token is shown once, only its SHA-256 is stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    token: String,
    /// The web app's page for the link: `/invite#<token>` (the token in the fragment).
    invite_url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invited {
    user: UserView,
    #[serde(flatten)]
    link: LinkView,
}

/// Stores a new link for `user` (revoking their earlier unused ones).
async fn issue_link(
    tx: &mut TenantTx,
    who: &Principal,
    user: UserId,
    purpose: Purpose,
) -> ApiResult<LinkView> {
    let (token, digest) = new_link_token();
    let expires_at = invitations::create(
        tx,
        NewLink {
            tenant: who.tenant,
            user,
            purpose,
            digest: &digest,
            ttl: Duration::days(LINK_TTL_DAYS),
            created_by: Some(who.user),
        },
    )
    .await?;
    Ok(LinkView {
        invite_url: invite_url(&token),
        token,
        expires_at,
    })
}

/// Adds a user without a password and returns a one-time link (valid 7 days) with which
/// they choose one. A manager cannot invite an admin.
#[utoipa::path(post, path = "/api/v1/users/invite", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    request_body = InviteUser,
    responses((status = 201, body = Invited), (status = 403), (status = 409), (status = 422)))]
async fn invite(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<InviteUser>,
) -> ApiResult<(StatusCode, Json<Invited>)> {
    manage(&who)?;
    let req = body.value;
    let display_name = req
        .display_name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let (mut tx, user) = add_user(&state, &who, &req.email, req.role, None, display_name).await?;
    let link = issue_link(&mut tx, &who, user.id, Purpose::Invite).await?;
    let change = Change {
        action: "user.invite",
        target_type: "user",
        target_id: user.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"email": user.email, "role": user.role, "expiresAt": link.expires_at}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let invited = Invited {
        user: user.into(),
        link,
    };
    Ok((StatusCode::CREATED, Json(invited)))
}

/// Makes a one-time link (valid 7 days) with which the user sets a new password; using
/// it ends their sessions. Earlier unused links of the user stop working.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-link", extensions(("x-penny-role" = json!("manager"))), tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = LinkView), (status = 403), (status = 404), (status = 409)))]
async fn reset_link(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<LinkView>)> {
    manage(&who)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let target = find(&mut tx, id).await?;
    may_act_on(&who, Some(&target), None)?;
    if target.status != "active" {
        return Err(ApiError::Conflict(
            "the user is deactivated; reactivate them first".into(),
        ));
    }
    let link = issue_link(&mut tx, &who, target.id, Purpose::Reset).await?;
    let change = Change {
        action: "user.reset_link",
        target_type: "user",
        target_id: target.id.to_string(),
        payload_sha256: None,
        details: json!({"email": target.email, "expiresAt": link.expires_at}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(link)))
}
