//! Tenants, managed by the platform super-admin. Creating a tenant may create its first
//! admin in the same transaction; suspending one refuses its tokens, keys and logins.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_store::tenants::{self, Tenant, Usage};
use penny_store::users::{self, NewUser};
use penny_store::{audit, Email, Role, Slug, StoreError, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{double_option, ClientMeta, Payload, Principal};
use crate::trail::{self, Change};
use crate::users::hash;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{id}", patch(update))
}

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    id: Uuid,
    slug: String,
    name: String,
    /// `active` or `suspended`.
    status: String,
    rate_limit_per_minute: Option<i32>,
    created_at: DateTime<Utc>,
    /// Bytes of uploaded files and artifact versions.
    #[serde(rename = "storageBytes")]
    storage_bytes: i64,
    /// Users of the tenant (deactivated ones included).
    users: i64,
}

impl TenantView {
    fn new(t: Tenant, usage: Option<&Usage>) -> Self {
        TenantView {
            id: t.id.0,
            slug: t.slug,
            name: t.name,
            status: t.status,
            rate_limit_per_minute: t.rate_limit_per_minute,
            created_at: t.created_at,
            storage_bytes: usage.map_or(0, |u| u.storage_bytes),
            users: usage.map_or(0, |u| u.users),
        }
    }
}

/// The usage of one tenant (zeros for a tenant the function does not list yet).
async fn usage_of(state: &AppState, id: TenantId) -> ApiResult<Option<Usage>> {
    let all = tenants::usage(state.store.pool()).await?;
    Ok(all.into_iter().find(|u| u.tenant_id == id))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(
        example = "Beta Team",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    name: String,
    /// Derived from the name when omitted.
    #[schema(example = "beta-team", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    slug: Option<String>,
    /// Optional first admin of the new tenant.
    #[schema(format = Email, max_length = 254)]
    admin_email: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    admin_password: Option<String>,
}

/// Every tenant on the platform.
#[utoipa::path(get, path = "/api/v1/tenants", extensions(("x-penny-role" = json!("super-admin"))), tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = [TenantView]), (status = 403)))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<TenantView>>> {
    who.require_super_admin()?;
    let all = tenants::list(state.store.pool()).await?;
    let usage: HashMap<TenantId, Usage> = tenants::usage(state.store.pool())
        .await?
        .into_iter()
        .map(|u| (u.tenant_id, u))
        .collect();
    Ok(Json(
        all.into_iter()
            .map(|t| {
                let u = usage.get(&t.id);
                TenantView::new(t, u)
            })
            .collect(),
    ))
}

/// Creates a tenant (and optionally its first admin).
#[utoipa::path(post, path = "/api/v1/tenants", extensions(("x-penny-role" = json!("super-admin"))), tag = "tenants", security(("bearer" = [])),
    request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    who.require_super_admin()?;
    let req = body.value;
    let slug = match &req.slug {
        Some(s) => Slug::parse(s)?,
        None => Slug::from_name(&req.name)?,
    };
    let admin = match (&req.admin_email, req.admin_password) {
        (Some(e), pw) => Some((
            Email::parse(e)?,
            match pw {
                Some(p) => Some(hash(p).await?),
                None => None,
            },
        )),
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "admin_email",
                "required with admin_password",
            ))
        }
        (None, None) => None,
    };
    // The tenant, its first admin and the audit record commit together.
    let mut tx = state.store.begin().await?;
    let tenant = tenants::create(&mut *tx, &req.name, &slug).await?;
    if let Some((email, password_hash)) = admin {
        penny_store::scope_to(&mut tx, tenant.id).await?;
        let user = users::create(
            &mut tx,
            tenant.id,
            NewUser {
                email: &email,
                role: Role::Admin,
                password_hash,
                display_name: None,
                is_super_admin: false,
            },
        )
        .await?;
        audit::append(
            &mut tx,
            tenant.id,
            audit::Entry {
                actor: None,
                action: "user.create",
                target_type: Some("user"),
                target_id: Some(user.id.to_string()),
                ip: meta.ip_string(),
                user_agent: meta.user_agent.clone(),
                details: json!({"email": user.email, "role": "admin", "by_super_admin": who.user}),
                ..Default::default()
            },
        )
        .await?;
    }
    penny_store::scope_to(&mut tx, who.tenant).await?;
    let change = Change {
        action: "tenant.create",
        target_type: "tenant",
        target_id: tenant.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"slug": tenant.slug, "name": tenant.name}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let usage = usage_of(&state, tenant.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantView::new(tenant, usage.as_ref())),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    #[schema(
        example = "Beta Team",
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    name: Option<String>,
    /// `active` or `suspended`. A suspended tenant's tokens, API keys and logins are
    /// refused until it is active again.
    #[schema(example = "suspended", pattern = "^(active|suspended)$")]
    status: Option<String>,
    /// Requests per minute per user or key; `null` for the server's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    rate_limit_per_minute: Option<Option<i32>>,
}

/// Renames, suspends or reactivates a tenant, or sets its rate limit (super-admin).
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", extensions(("x-penny-role" = json!("super-admin"))), tag = "tenants", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateTenant,
    responses((status = 200, body = TenantView), (status = 403), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    who.require_super_admin()?;
    let req = body.value;
    let id = TenantId(id);
    if id == who.tenant && req.status.as_deref() == Some("suspended") {
        return Err(ApiError::validation(
            "status",
            "the super-admin's own tenant cannot be suspended",
        ));
    }
    let changes = tenants::Changes {
        name: req.name.as_deref(),
        status: req.status.as_deref(),
        rate_limit_per_minute: req.rate_limit_per_minute,
    };
    // The change and its audit record commit together.
    let mut tx = state.store.begin().await?;
    let before = tenants::by_id(&mut *tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tenant = tenants::update(&mut *tx, id, changes).await?;
    penny_store::scope_to(&mut tx, who.tenant).await?;
    let change = Change {
        action: "tenant.update",
        target_type: "tenant",
        target_id: id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({
            "slug": tenant.slug,
            "name": {"from": before.name, "to": tenant.name},
            "status": {"from": before.status, "to": tenant.status},
            "rate_limit_per_minute": {"from": before.rate_limit_per_minute, "to": tenant.rate_limit_per_minute},
        }),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    // Every instance sees the new status at once (or, missing the announcement, within
    // its cache's few seconds).
    crate::access::changed(&state, id, None).await;
    let usage = usage_of(&state, id).await?;
    Ok(Json(TenantView::new(tenant, usage.as_ref())))
}
