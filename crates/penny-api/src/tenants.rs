//! Tenants, managed by the platform super-admin. Creating a tenant may create its first
//! admin in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_store::tenants::{self, Tenant};
use penny_store::users::{self, NewUser};
use penny_store::{audit, Email, Role, Slug, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::trail::{self, Change};
use crate::users::hash;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/tenants", get(list).post(create))
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
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            id: t.id.0,
            slug: t.slug,
            name: t.name,
            status: t.status,
            rate_limit_per_minute: t.rate_limit_per_minute,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(example = "Beta Team")]
    name: String,
    /// Derived from the name when omitted.
    #[schema(example = "beta-team")]
    slug: Option<String>,
    /// Optional first admin of the new tenant.
    admin_email: Option<String>,
    admin_password: Option<String>,
}

/// Every tenant on the platform.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = [TenantView]), (status = 403)))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<TenantView>>> {
    who.require_super_admin()?;
    let all = tenants::list(state.store.pool()).await?;
    Ok(Json(all.into_iter().map(TenantView::from).collect()))
}

/// Creates a tenant (and optionally its first admin).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])),
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
    Ok((StatusCode::CREATED, Json(tenant.into())))
}
