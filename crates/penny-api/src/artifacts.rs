//! Artifacts: list a conversation's, read one with its versions, stream a version's bytes,
//! create one or add a version, and hand out short-lived signed download links.
//!
//! Who may read: the owner of the artifact's conversation (or its creator when it has
//! none), and the tenant's admins. Anyone else gets 404, like another tenant.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use penny_objects::Bucket;
use penny_store::artifacts::{self, Artifact, Origin, Version};
use penny_store::{access, conversations, Role, StoreError, TenantId, TenantTx};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Payload, Principal};
use crate::objects::{serve, Served};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(list).post(create))
        .route("/artifacts/{id}", get(one))
        .route("/artifacts/{id}/content", get(content))
        .route("/artifacts/{id}/link", post(link))
}

/// Signed links work without a bearer token, so they live outside the authenticated API.
pub fn link_routes() -> Router<AppState> {
    Router::new().route("/api/v1/links/{token}", get(follow))
}

/// The artifact cache rule of the original design: private, one hour.
const CACHE: &str = "private, max-age=3600";

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    artifact: Artifact,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    versions: Option<Vec<Version>>,
}

/// The artifact if the caller may read it, else `NotFound` (the store's one rule).
async fn readable(tx: &mut TenantTx, who: &Principal, id: Uuid) -> ApiResult<Artifact> {
    Ok(access::artifact(tx, &who.reader(), id).await?)
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// The conversation's artifacts, oldest first; without it, the caller's newest.
    conversation_id: Option<Uuid>,
    limit: Option<i64>,
}

/// Artifacts of a conversation, or the caller's own.
#[utoipa::path(get, path = "/api/v1/artifacts", tag = "artifacts", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = [ArtifactView]), (status = 404)))]
async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ArtifactView>>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let mut tx = state.store.tenant(who.tenant).await?;
    let found = match q.conversation_id {
        Some(c) => {
            conversations::get(&mut tx, who.user, c).await?;
            artifacts::list(&mut tx, c, limit).await?
        }
        None => artifacts::list_created_by(&mut tx, who.user.0, limit).await?,
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(
        found
            .into_iter()
            .map(|artifact| ArtifactView {
                artifact,
                versions: None,
            })
            .collect(),
    ))
}

/// One artifact with every version.
#[utoipa::path(get, path = "/api/v1/artifacts/{id}", tag = "artifacts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ArtifactView), (status = 404)))]
async fn one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ArtifactView>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let artifact = readable(&mut tx, &who, id).await?;
    let versions = artifacts::versions(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(ArtifactView {
        artifact,
        versions: Some(versions),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A version number; the latest when omitted.
    version: Option<i32>,
    /// `true`: download as a file instead of showing inline.
    #[serde(default)]
    download: bool,
}

/// The bytes of one version (streamed; ETag; `Cache-Control: private, max-age=3600`).
#[utoipa::path(get, path = "/api/v1/artifacts/{id}/content", tag = "artifacts", security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionQuery), responses((status = 200), (status = 304), (status = 404)))]
async fn content(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<VersionQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let artifact = readable(&mut tx, &who, id).await?;
    let v = artifacts::version(&mut tx, id, q.version).await?;
    tx.commit().await.map_err(StoreError::from)?;
    send(&state, &headers, &artifact, &v, q.download).await
}

async fn send(
    state: &AppState,
    headers: &HeaderMap,
    artifact: &Artifact,
    v: &Version,
    download: bool,
) -> ApiResult<Response> {
    serve(
        &state.tools.objects,
        headers,
        Served {
            bucket: Bucket::Artifacts,
            key: &v.object_key,
            mime: &v.mime,
            sha256: &v.sha256,
            cache: CACHE,
            download_as: download.then_some(artifact.title.as_str()),
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    /// markdown, table, chart, vega-lite, mermaid, code, document, image, dashboard or file.
    #[serde(rename = "type")]
    #[schema(
        pattern = "^(markdown|table|chart|vega-lite|mermaid|code|document|image|dashboard|file)$"
    )]
    kind: Option<String>,
    title: String,
    /// The content: text, or base64 with `"encoding": "base64"`.
    content: String,
    /// `utf8` (default) or `base64`.
    #[schema(pattern = "^(utf8|base64)$")]
    encoding: Option<String>,
    /// The content type; derived from `type` when omitted.
    mime: Option<String>,
    conversation_id: Option<Uuid>,
    /// Adds a new version to this artifact instead of creating one.
    artifact_id: Option<Uuid>,
}

/// Creates an artifact, or with `artifactId` adds a version to it (old versions stay).
#[utoipa::path(post, path = "/api/v1/artifacts", extensions(("x-penny-role" = json!("creator"))), tag = "artifacts", security(("bearer" = [])),
    request_body = CreateBody,
    responses((status = 201, body = ArtifactView), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    body: Payload<CreateBody>,
) -> ApiResult<(StatusCode, Json<ArtifactView>)> {
    who.require(Role::Creator)?;
    let b = body.value;
    let bytes = match b.encoding.as_deref().unwrap_or("utf8") {
        "utf8" => Bytes::from(b.content.into_bytes()),
        "base64" => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b.content.trim())
                .map_err(|e| ApiError::validation("content", format!("not base64: {e}")))?,
        ),
        _ => return Err(ApiError::validation("encoding", "expected utf8 or base64")),
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let (id, version, kind) = match b.artifact_id {
        Some(id) => {
            let current = readable(&mut tx, &who, id).await?;
            if b.kind.as_deref().is_some_and(|k| k != current.kind) {
                return Err(ApiError::validation(
                    "type",
                    "a new version keeps the artifact's type",
                ));
            }
            (
                id,
                artifacts::next_version(&mut tx, id).await?,
                current.kind,
            )
        }
        None => {
            if let Some(c) = b.conversation_id {
                conversations::get(&mut tx, who.user, c).await?;
            }
            let kind = b
                .kind
                .ok_or_else(|| ApiError::validation("type", "is required"))?;
            (Uuid::new_v4(), 1, kind)
        }
    };
    let mime = match b.mime {
        Some(m) => client_mime(&m)?,
        None => penny_tools::mime_of(&kind, None),
    };
    let staged = penny_tools::artifacts::stage(
        &state.tools.objects,
        who.tenant,
        penny_tools::artifacts::Spec {
            id,
            version,
            kind: &kind,
            title: &b.title,
            mime: &mime,
        },
        bytes,
    )
    .await?;
    let artifact = if version == 1 {
        let origin = Origin {
            conversation_id: b.conversation_id,
            created_by: Some(who.user.0),
            ..Origin::default()
        };
        penny_tools::artifacts::record(&mut tx, who.tenant, &staged, &origin).await?
    } else {
        penny_tools::artifacts::record_version(&mut tx, who.tenant, &staged, Some(who.user.0))
            .await?
    };
    let versions = artifacts::versions(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(ArtifactView {
            artifact,
            versions: Some(versions),
        }),
    ))
}

/// A content type a client gave: `type/subtype` by RFC 6838's grammar, at most 200
/// characters, with no parameter but `charset`; returned in its canonical (lower-case)
/// spelling, the one stored and served.
fn client_mime(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::validation("mime", "expected a content type such as text/plain");
    if raw.len() > 200 {
        return Err(bad());
    }
    let m: mime::Mime = raw.trim().parse().map_err(|_| bad())?;
    // RFC 6838: names of 1-127 letters, digits and `!#$&-^_.+`, the first alphanumeric.
    let name = |n: &str| {
        (1..=127).contains(&n.len())
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    if !name(m.type_().as_str())
        || !name(m.subtype().as_str())
        || m.params().any(|(name, _)| name != mime::CHARSET)
    {
        return Err(bad());
    }

    Ok(m.to_string())
}

#[derive(Serialize, Deserialize)]
struct LinkClaims {
    t: Uuid,
    a: Uuid,
    v: i32,
    e: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    url: String,
    expires_at: DateTime<Utc>,
}

/// The MAC of a link's claims; `link` finalizes it, `follow` verifies it in constant time.
fn link_mac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac
}

/// A signed link to one version that works without a token until it expires.
#[utoipa::path(post, path = "/api/v1/artifacts/{id}/link", tag = "artifacts", security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionQuery), responses((status = 200, body = LinkView), (status = 404)))]
async fn link(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<LinkView>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    readable(&mut tx, &who, id).await?;
    let v = artifacts::version(&mut tx, id, q.version).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let ttl = chrono::Duration::from_std(state.tools.link_ttl)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let expires_at = Utc::now() + ttl;
    let claims = LinkClaims {
        t: who.tenant.0,
        a: id,
        v: v.version,
        e: expires_at.timestamp(),
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let sig = URL_SAFE_NO_PAD.encode(
        link_mac(&state.tools.link_key, body.as_bytes())
            .finalize()
            .into_bytes(),
    );
    Ok(Json(LinkView {
        url: format!("/api/v1/links/{body}.{sig}"),
        expires_at,
    }))
}

/// Follows a signed link: the version's bytes, or 404 for a bad or expired link.
async fn follow(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (body, sig) = token.split_once('.').ok_or(ApiError::NotFound)?;
    let given = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| ApiError::NotFound)?;
    link_mac(&state.tools.link_key, body.as_bytes())
        .verify_slice(&given)
        .map_err(|_| ApiError::NotFound)?;
    let claims: LinkClaims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(ApiError::NotFound)?;
    if claims.e < Utc::now().timestamp() {
        return Err(ApiError::NotFound);
    }
    let mut tx = state.store.tenant(TenantId(claims.t)).await?;
    let artifact = artifacts::get(&mut tx, claims.a).await?;
    let v = artifacts::version(&mut tx, claims.a, Some(claims.v)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    send(&state, &headers, &artifact, &v, false).await
}

#[cfg(test)]
mod tests {
    use super::client_mime;

    #[test]
    fn client_mime_accepts_types_and_refuses_the_rest() {
        for bad in [
            "text/html\r\nSet-Cookie: a=b",
            "not a type",
            "text/",
            "*/*",
            "text/plain; boundary=x",
            "text/plain,application/json",
            "text/pl(ain)",
        ] {
            assert!(client_mime(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            client_mime("Text/X-Rust; charset=utf-8").unwrap(),
            "text/x-rust; charset=utf-8"
        );
    }
}
