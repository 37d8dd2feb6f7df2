//! API keys: each user manages their own; admins see and revoke every key of the tenant.
//! The plaintext key is returned once, at creation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use penny_auth::new_api_key;
use penny_store::api_keys::{self, ApiKey};
use penny_store::{Role, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::trail::{self, Change};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", delete(revoke))
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    id: Uuid,
    user_id: Uuid,
    name: String,
    /// The first characters of the key, to tell keys apart (e.g. `pk_7Hq2xK9a`).
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            user_id: k.user_id.0,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself. Shown only now; store it safely.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(example = "ci pipeline")]
    name: String,
}

fn sees_all(who: &Principal) -> bool {
    who.role.at_least(Role::Admin)
}

/// The caller's keys (an admin sees every key of the tenant).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = [ApiKeyView])))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let keys = api_keys::list(&mut tx, (!sees_all(&who)).then_some(who.user)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Creates a key acting as the caller, with the caller's role.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKey, responses((status = 201, body = CreatedApiKey), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let secret = new_api_key();
    let mut tx = state.store.tenant(who.tenant).await?;
    let key = api_keys::create(
        &mut tx,
        who.tenant,
        who.user,
        &body.value.name,
        &secret.display_prefix,
        &secret.digest,
    )
    .await?;
    let change = Change {
        action: "api_key.create",
        target_type: "api_key",
        target_id: key.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"name": key.name, "prefix": key.prefix}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: key.into(),
            secret: secret.plaintext,
        }),
    ))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let key = api_keys::by_id(&mut tx, id)
        .await?
        .filter(|k| sees_all(&who) || k.user_id == who.user)
        .ok_or(ApiError::NotFound)?;
    api_keys::revoke(&mut tx, key.id).await?;
    let change = Change {
        action: "api_key.revoke",
        target_type: "api_key",
        target_id: key.id.to_string(),
        payload_sha256: None,
        details: json!({"name": key.name, "prefix": key.prefix}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
