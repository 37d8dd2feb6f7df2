//! Model configurations of the caller's tenant. Admins add, change and remove them; every
//! user lists the models they may use. Upstream API keys are sealed at rest and never
//! returned.
//!
//! A model is a chat model (`kind: chat`, the default) or an embedding model (`kind:
//! embedding`: an OpenAI-compatible `/embeddings` endpoint and its vector size,
//! `dimensions`) that knowledge collections name as their `embeddingModel`. An embedding
//! model never answers messages (it cannot be the default or a fallback); its name and
//! size cannot change, nor can it be removed, while collections are embedded with it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use penny_store::models::{self, Model, ModelSpec};
use penny_store::policies;
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
        .route("/models", get(list).post(create))
        .route("/models/{id}", patch(update).delete(remove))
        .route("/models/{id}/test", axum::routing::post(test))
}

#[derive(Serialize, ToSchema)]
pub struct ModelView {
    id: Uuid,
    name: String,
    /// `openai` or `anthropic`.
    provider: String,
    /// `chat` or `embedding`.
    kind: String,
    /// An embedding model's vector size.
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<i32>,
    is_default: bool,
    context_window: i32,
    /// The fields below are shown to admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_api_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price_input_per_1k: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price_output_per_1k: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
    /// Configured by the operator's environment: endpoint and key cannot be changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    operator_managed: Option<bool>,
}

fn view(m: Model, admin: bool) -> ModelView {
    ModelView {
        id: m.id,
        name: m.name,
        provider: m.provider,
        kind: m.kind,
        dimensions: m.dimensions,
        is_default: m.is_default,
        context_window: m.context_window,
        base_url: admin.then_some(m.base_url),
        model: admin.then_some(m.model),
        has_api_key: admin.then_some(m.api_key_sealed.is_some()),
        max_output_tokens: admin.then_some(m.max_output_tokens),
        price_input_per_1k: admin.then_some(m.price_input_per_1k),
        price_output_per_1k: admin.then_some(m.price_output_per_1k),
        fallback: if admin { m.fallback } else { None },
        operator_managed: admin.then_some(m.operator_managed),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelBody {
    #[schema(example = "gpt-4o-mini")]
    name: Option<String>,
    /// `openai` or `anthropic`; an embedding model's is `openai` (the default for one).
    #[schema(example = "openai", pattern = "^(openai|anthropic)$")]
    provider: Option<String>,
    /// `chat` (default) or `embedding`; fixed once the model exists.
    #[schema(example = "chat", pattern = "^(chat|embedding)$")]
    kind: Option<String>,
    /// An embedding model's vector size (1–2000), checked on every answer; required for
    /// `kind: embedding`, refused for chat models.
    #[schema(example = 1536, minimum = 1, maximum = 2000)]
    dimensions: Option<i32>,
    #[schema(example = "https://api.openai.com/v1")]
    base_url: Option<String>,
    /// Write-only. An empty string removes the key.
    api_key: Option<String>,
    /// The upstream's model id; defaults to `name`.
    model: Option<String>,
    context_window: Option<i32>,
    max_output_tokens: Option<i32>,
    price_input_per_1k: Option<f64>,
    price_output_per_1k: Option<f64>,
    is_default: Option<bool>,
    /// Name of the model to use when this one is unavailable before its first token.
    fallback: Option<String>,
}

fn admin(who: &Principal) -> bool {
    who.role.at_least(Role::Admin)
}

/// Applies `b` over `base` (a new model when `base` is `None`) and validates the result.
fn spec(state: &AppState, b: ModelBody, base: Option<&Model>) -> ApiResult<ModelSpec> {
    let required = |v: Option<String>, old: Option<&String>, field: &str| {
        v.or(old.cloned())
            .ok_or_else(|| ApiError::validation(field, "is required"))
    };
    let name = required(b.name, base.map(|m| &m.name), "name")?;
    let kind = kind(b.kind.as_deref(), base)?;
    let embedding = kind == models::EMBEDDING;
    let provider = match b.provider.or(base.map(|m| m.provider.clone())) {
        None if embedding => "openai".to_string(),
        p => p.ok_or_else(|| ApiError::validation("provider", "is required"))?,
    };
    if provider.parse::<penny_models::Provider>().is_err() {
        return Err(ApiError::validation(
            "provider",
            "expected openai or anthropic",
        ));
    }
    let base_url = required(b.base_url, base.map(|m| &m.base_url), "base_url")?;
    check_base_url(&base_url)?;
    if let Some(m) = base {
        let moved = base_url != m.base_url || provider != m.provider;
        if m.operator_managed && (moved || b.api_key.is_some()) {
            return Err(ApiError::Forbidden(
                "this model is configured by the operator's environment: its endpoint and key cannot be changed here",
            ));
        }
        // The sealed key must never follow the model to another host.
        if moved && b.api_key.is_none() && m.api_key_sealed.is_some() {
            return Err(ApiError::validation(
                "api_key",
                "changing base_url or provider needs the API key again (or \"\" to remove it)",
            ));
        }
    }
    let api_key_sealed = match b.api_key {
        Some(k) if k.is_empty() => None,
        Some(k) => Some(state.engine.sealing().seal(&k)),
        None => base.and_then(|m| m.api_key_sealed.clone()),
    };
    let positive = |v: Option<i32>, old: Option<i32>, default: i32, field: &str| {
        let n = v.or(old).unwrap_or(default);
        if n > 0 {
            Ok(n)
        } else {
            Err(ApiError::validation(field, "must be positive"))
        }
    };
    let price = |v: Option<f64>, old: Option<f64>, field: &str| {
        let p = v.or(old).unwrap_or(0.0);
        if p.is_finite() && p >= 0.0 {
            Ok(p)
        } else {
            Err(ApiError::validation(field, "must be zero or more"))
        }
    };
    let dimensions = b.dimensions.or(base.and_then(|m| m.dimensions));
    if embedding {
        check_embedding(
            &name,
            &provider,
            dimensions,
            b.is_default,
            b.fallback.as_deref(),
        )?;
    } else if b.dimensions.is_some() {
        return Err(ApiError::validation(
            "dimensions",
            "only an embedding model has dimensions",
        ));
    }
    Ok(ModelSpec {
        kind,
        dimensions: dimensions.filter(|_| embedding),
        model: b
            .model
            .or(base.map(|m| m.model.clone()))
            .unwrap_or_else(|| name.clone()),
        context_window: positive(
            b.context_window,
            base.map(|m| m.context_window),
            8192,
            "context_window",
        )?,
        max_output_tokens: positive(
            b.max_output_tokens,
            base.map(|m| m.max_output_tokens),
            1024,
            "max_output_tokens",
        )?,
        price_input_per_1k: price(
            b.price_input_per_1k,
            base.map(|m| m.price_input_per_1k),
            "price_input_per_1k",
        )?,
        price_output_per_1k: price(
            b.price_output_per_1k,
            base.map(|m| m.price_output_per_1k),
            "price_output_per_1k",
        )?,
        is_default: b.is_default.or(base.map(|m| m.is_default)).unwrap_or(false),
        fallback: b
            .fallback
            .or(base.and_then(|m| m.fallback.clone()))
            .filter(|f| !f.is_empty()),
        name,
        provider,
        base_url,
        api_key_sealed,
    })
}

/// The model's kind: `chat` unless asked otherwise; an existing model keeps its own.
fn kind(asked: Option<&str>, base: Option<&Model>) -> ApiResult<String> {
    let kind = match asked {
        None => return Ok(base.map_or(models::CHAT, |m| m.kind.as_str()).to_string()),
        Some(k @ (models::CHAT | models::EMBEDDING)) => k,
        Some(_) => return Err(ApiError::validation("kind", "expected chat or embedding")),
    };
    match base {
        Some(m) if m.kind != kind => Err(ApiError::validation(
            "kind",
            "a model's kind cannot change; add a new model instead",
        )),
        _ => Ok(kind.to_string()),
    }
}

/// An embedding model speaks OpenAI's `/embeddings`, has a size, and answers no messages.
fn check_embedding(
    name: &str,
    provider: &str,
    dimensions: Option<i32>,
    is_default: Option<bool>,
    fallback: Option<&str>,
) -> ApiResult<()> {
    if name.starts_with("local/") {
        return Err(ApiError::validation(
            "name",
            "names starting with local/ are the server's own models",
        ));
    }
    if provider != "openai" {
        return Err(ApiError::validation(
            "provider",
            "an embedding model speaks the OpenAI format (openai)",
        ));
    }
    match dimensions {
        None => Err(ApiError::validation(
            "dimensions",
            "is required for an embedding model",
        )),
        Some(d) if !(1..=2000).contains(&d) => {
            Err(ApiError::validation("dimensions", "between 1 and 2000"))
        }
        _ if is_default == Some(true) => Err(ApiError::validation(
            "is_default",
            "an embedding model cannot be the default chat model",
        )),
        _ if fallback.is_some_and(|f| !f.is_empty()) => Err(ApiError::validation(
            "fallback",
            "an embedding model has no fallback",
        )),
        _ => Ok(()),
    }
}

/// Refuses to rename, resize or remove an embedding model collections are embedded with:
/// their vectors would no longer match it.
async fn check_unused(
    tx: &mut penny_store::TenantTx,
    current: &Model,
    next: Option<&ModelSpec>,
) -> ApiResult<()> {
    let keeps = next.is_some_and(|s| s.name == current.name && s.dimensions == current.dimensions);
    if !current.is_embedding() || keeps {
        return Ok(());
    }
    let n = models::collections_using(tx, &current.name).await?;
    if n > 0 {
        return Err(ApiError::Conflict(format!(
            "{n} collection(s) are embedded with {}: give them another embeddingModel first",
            current.name
        )));
    }
    Ok(())
}

/// Models the caller may use under the tenant's policies; admins see every model with its
/// configuration, never the key.
#[utoipa::path(get, path = "/api/v1/models", tag = "models", security(("bearer" = [])),
    responses((status = 200, body = [ModelView])))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<ModelView>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let mut all = models::list(&mut tx).await?;
    if !admin(&who) {
        let grants = policies::model_grants(&mut tx).await?;
        all.retain(|m| {
            let roles = grants.iter().find(|g| g.model_id == m.id);
            policies::grants(roles.map(|g| g.roles.as_slice()), who.role)
        });
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(
        all.into_iter().map(|m| view(m, admin(&who))).collect(),
    ))
}

/// Adds a model (admin).
#[utoipa::path(post, path = "/api/v1/models", extensions(("x-penny-role" = json!("admin"))), tag = "models", security(("bearer" = [])), request_body = ModelBody,
    responses((status = 201, body = ModelView), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<ModelBody>,
) -> ApiResult<(StatusCode, Json<ModelView>)> {
    who.require(Role::Admin)?;
    let s = spec(&state, body.value, None)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let m = models::create(&mut tx, who.tenant, s).await?;
    let change = Change {
        action: "model.create",
        target_type: "model",
        target_id: m.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"name": m.name, "provider": m.provider, "base_url": m.base_url,
                        "kind": m.kind}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(view(m, true))))
}

/// Changes a model (admin); omitted fields stay as they are.
#[utoipa::path(patch, path = "/api/v1/models/{id}", extensions(("x-penny-role" = json!("admin"))), tag = "models", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ModelBody,
    responses((status = 200, body = ModelView), (status = 403), (status = 404), (status = 409),
              (status = 422)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<ModelBody>,
) -> ApiResult<Json<ModelView>> {
    who.require(Role::Admin)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let current = models::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let s = spec(&state, body.value, Some(&current))?;
    check_unused(&mut tx, &current, Some(&s)).await?;
    let m = models::update(&mut tx, id, s).await?;
    let change = Change {
        action: "model.update",
        target_type: "model",
        target_id: m.id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"name": m.name}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(view(m, true)))
}

/// Removes a model (admin).
#[utoipa::path(delete, path = "/api/v1/models/{id}", extensions(("x-penny-role" = json!("admin"))), tag = "models", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn remove(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    who.require(Role::Admin)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let current = models::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    check_unused(&mut tx, &current, None).await?;
    models::delete(&mut tx, id).await?;
    let change = Change {
        action: "model.delete",
        target_type: "model",
        target_id: id.to_string(),
        payload_sha256: None,
        details: json!({}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelTestError {
    /// `provider_auth`, `provider_unreachable`, `provider_timeout`, `provider_error`...
    code: &'static str,
    message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelTestView {
    ok: bool,
    /// The model's answer to a one-line prompt (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
    /// Why the call failed (when not `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ModelTestError>,
    latency_ms: u64,
    /// The model's name.
    model: String,
}

/// Calls the model once with a one-line prompt and reports the answer or the error
/// (admin). No retries, no fallback; nothing is stored.
#[utoipa::path(post, path = "/api/v1/models/{id}/test", extensions(("x-penny-role" = json!("admin"))), tag = "models", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ModelTestView, description = "answered or not: see `ok`"),
              (status = 403), (status = 404)))]
async fn test(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ModelTestView>> {
    who.require(Role::Admin)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let m = models::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let embedder = if m.is_embedding() {
        Some(state.tools.embedders.resolve(&mut tx, &m.name).await)
    } else {
        None
    };
    tx.commit().await.map_err(StoreError::from)?;
    let began = std::time::Instant::now();
    let answer = match embedder {
        Some(embedder) => probe_embedding(embedder).await,
        None => state
            .engine
            .probe_model(&m)
            .await
            .map_err(|e| ModelTestError {
                code: e.code(),
                message: e.to_string(),
            }),
    };
    let latency_ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, reply, error) = match answer {
        Ok(reply) => (true, Some(reply), None),
        Err(e) => (false, None, Some(e)),
    };
    Ok(Json(ModelTestView {
        ok,
        reply,
        error,
        latency_ms,
        model: m.name,
    }))
}

/// Embeds one line with an embedding model; the reply says the vector's size.
async fn probe_embedding(
    embedder: Result<penny_knowledge::Embedder, penny_knowledge::ResolveError>,
) -> Result<String, ModelTestError> {
    use penny_knowledge::EmbedError as E;
    let embedder = embedder.map_err(|e| ModelTestError {
        code: "provider_error",
        message: e.to_string(),
    })?;
    let vectors = embedder
        .embed(vec!["PENNY connection test".into()])
        .await
        .map_err(|e| ModelTestError {
            code: match &e {
                E::Auth { .. } => "provider_auth",
                E::Timeout { .. } => "provider_timeout",
                E::Unreachable(_) => "provider_unreachable",
                E::Refused(_) => "outbound_refused",
                E::RateLimited => "provider_rate_limited",
                E::Dimensions { .. } | E::Protocol(_) => "provider_protocol",
                _ => "provider_error",
            },
            message: e.to_string(),
        })?;
    let dims = vectors.first().map_or(0, Vec::len);
    Ok(format!("an embedding of {dims} dimensions"))
}

/// A model's endpoint: an absolute http(s) URL without credentials in it (they would be
/// shown, logged and audited with the URL; the key goes in `api_key`).
fn check_base_url(url: &str) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::validation("base_url", m));
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return bad("must be an http:// or https:// URL");
    }
    let Ok(uri) = url.parse::<http::Uri>() else {
        return bad("is not a valid URL");
    };
    match uri.authority() {
        None => bad("is not a valid URL"),
        Some(a) if a.as_str().contains('@') => {
            bad("must not carry a user name or password; put the key in api_key")
        }
        Some(_) => Ok(()),
    }
}
