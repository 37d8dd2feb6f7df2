//! Knowledge: collections of documents (`/collections`), their members and documents,
//! ingest status and cancel (`/documents`), hybrid search (`POST /search`) and the
//! passages citations link to (`/passages`).
//!
//! A collection is seen by its owner, its members and the tenant's admins; anyone else
//! gets 404 for it and everything in it. Adding or removing documents takes `write`
//! access (and the creator role); members and the collection itself are managed by the
//! owner and admins.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use penny_knowledge::ingest::{self, Payload as IngestPayload};
use penny_objects::Bucket;
use penny_queue::{JobId, NewJob};
use penny_store::knowledge::{self, Access, Collection, Document, Member, Passage};
use penny_store::{access, files, Role, StoreError, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientMeta, Payload, Principal};
use crate::objects::{serve, Served};
use crate::trail::{self, Change};
use crate::url_fetch;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/collections", get(list).post(create))
        .route("/collections/{id}", get(show).patch(update).delete(remove))
        .route("/collections/{id}/members", get(members).post(set_member))
        .route(
            "/collections/{id}/documents",
            get(documents).post(add_document),
        )
        .route("/documents/{id}", get(document).delete(delete_document))
        .route("/documents/{id}/content", get(document_content))
        .route("/documents/{id}/cancel", post(cancel))
        .route("/passages/{id}", get(passage))
        .route("/search", post(search))
}

/// How long one ingest attempt may take (a big PDF on a busy worker).
const INGEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The embedding model a collection is to record, with its dimensions: the one `name`
/// names, else this server's local model. Unknown: 422 `unknown_embedding_model`; a chat
/// model: 422 `not_an_embedding_model`; the local model missing here: 503.
async fn embedding_model(
    state: &AppState,
    tx: &mut TenantTx,
    name: Option<&str>,
) -> ApiResult<(String, i32)> {
    use penny_knowledge::ResolveError as R;
    let embedders = &state.tools.embedders;
    let resolved = match name {
        None => embedders.local().cloned(),
        Some(name) => embedders.resolve(tx, name).await,
    };
    match resolved {
        Ok(e) => Ok((e.model().to_string(), e.dims() as i32)),
        Err(e @ R::Unknown(_)) => Err(ApiError::Unusable {
            code: "unknown_embedding_model",
            detail: e.to_string(),
        }),
        Err(e @ R::NotEmbedding(_)) => Err(ApiError::Unusable {
            code: "not_an_embedding_model",
            detail: e.to_string(),
        }),
        Err(e @ R::Key(_)) => Err(ApiError::Unusable {
            code: "embedding_model_key",
            detail: e.to_string(),
        }),
        Err(R::Unavailable(detail)) => Err(ApiError::NotAvailable {
            code: "knowledge_unavailable",
            detail,
        }),
        Err(R::Store(e)) => Err(e.into()),
    }
}

/// The collection if the caller has at least `need` on it. No access at all is 404;
/// some but too little is 403.
async fn collection(
    tx: &mut TenantTx,
    who: &Principal,
    id: Uuid,
    need: Access,
) -> ApiResult<Collection> {
    let c = knowledge::get_collection(tx, who.reader(), id).await?;
    if c.access() < need {
        return Err(ApiError::Forbidden(match need {
            Access::Manage => "only the collection's owner or an admin may do this",
            _ => "you may read this collection but not change it",
        }));
    }
    Ok(c)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewCollection {
    #[schema(example = "Handbook")]
    name: String,
    #[serde(default)]
    description: String,
    /// The model its passages are embedded with: this server's local model
    /// (`local/...`, the default) or the name of one of the workspace's embedding models
    /// (`/api/v1/models`, `kind: embedding`).
    #[schema(example = "local/all-MiniLM-L6-v2")]
    embedding_model: Option<String>,
}

fn check_name(name: &str) -> ApiResult<()> {
    let n = name.trim().chars().count();
    if !(1..=200).contains(&n) {
        return Err(ApiError::validation("name", "1 to 200 characters"));
    }
    Ok(())
}

fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 2000 {
        return Err(ApiError::validation(
            "description",
            "at most 2000 characters",
        ));
    }
    Ok(())
}

/// The collections the caller can see (admins: all of the tenant's), newest first.
#[utoipa::path(get, path = "/api/v1/collections", tag = "knowledge", security(("bearer" = [])),
    responses((status = 200, body = [Object])))]
async fn list(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<Collection>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let all = knowledge::list_collections(&mut tx, who.reader()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all))
}

/// Creates a collection owned by the caller, embedded with `embeddingModel` (this
/// server's local model by default).
#[utoipa::path(post, path = "/api/v1/collections", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), request_body = NewCollection,
    responses((status = 201, body = Object),
              (status = 422, description = "`validation_failed`, `unknown_embedding_model` or `not_an_embedding_model`"),
              (status = 503)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    body: Payload<NewCollection>,
) -> ApiResult<(StatusCode, Json<Collection>)> {
    who.require(Role::Creator)?;
    check_name(&body.value.name)?;
    check_description(&body.value.description)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let (model, dims) =
        embedding_model(&state, &mut tx, body.value.embedding_model.as_deref()).await?;
    let id = knowledge::create_collection(
        &mut tx,
        who.tenant,
        who.user,
        knowledge::NewCollection {
            name: &body.value.name,
            description: &body.value.description,
            embedding_model: &model,
            embedding_dims: dims,
        },
    )
    .await?;
    let change = Change {
        action: "collection.create",
        target_type: "collection",
        target_id: id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"name": body.value.name.trim(), "embeddingModel": model}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    let c = knowledge::get_collection(&mut tx, who.reader(), id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// One collection with its counts and the caller's access.
#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Collection>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = collection(&mut tx, &who, id, Access::Read).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(c))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionChange {
    name: Option<String>,
    description: Option<String>,
    /// Another embedding model (as on create): every document is ingested again with it,
    /// its old passages found by keyword only until its new version is ready.
    #[schema(example = "local/all-MiniLM-L6-v2")]
    embedding_model: Option<String>,
}

/// Renames a collection, changes its description, or embeds it with another model
/// (owner or admin).
#[utoipa::path(patch, path = "/api/v1/collections/{id}", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CollectionChange, responses((status = 200, body = Object), (status = 404),
        (status = 422, description = "`validation_failed`, `unknown_embedding_model` or `not_an_embedding_model`"),
        (status = 503)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<CollectionChange>,
) -> ApiResult<Json<Collection>> {
    who.require(Role::Creator)?;
    if let Some(n) = &body.value.name {
        check_name(n)?;
    }
    if let Some(d) = &body.value.description {
        check_description(d)?;
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    let before = collection(&mut tx, &who, id, Access::Manage).await?;
    knowledge::update_collection(
        &mut tx,
        id,
        body.value.name.as_deref(),
        body.value.description.as_deref(),
    )
    .await?;
    let mut details = json!({"name": body.value.name});
    if let Some(name) = body.value.embedding_model.as_deref() {
        let (model, dims) = embedding_model(&state, &mut tx, Some(name)).await?;
        if model != before.embedding_model || dims != before.embedding_dims {
            let (docs, jobs) = knowledge::change_embedding(&mut tx, id, &model, dims).await?;
            for job in jobs {
                penny_queue::cancel(&mut tx, JobId(job)).await?;
            }
            details["reingested"] = json!(docs.len());
            for doc in docs {
                queue_ingest(&mut tx, &who, doc).await?;
            }
            details["embeddingModel"] = json!(model);
        }
    }
    let change = Change {
        action: "collection.update",
        target_type: "collection",
        target_id: id.to_string(),
        payload_sha256: Some(&body.sha256),
        details,
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    let c = knowledge::get_collection(&mut tx, who.reader(), id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(c))
}

/// Deletes a collection with its documents and passages; running ingests stop.
#[utoipa::path(delete, path = "/api/v1/collections/{id}", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    who.require(Role::Creator)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = collection(&mut tx, &who, id, Access::Manage).await?;
    for job in knowledge::delete_collection(&mut tx, id).await? {
        penny_queue::cancel(&mut tx, JobId(job)).await?;
    }
    let change = Change {
        action: "collection.delete",
        target_type: "collection",
        target_id: id.to_string(),
        payload_sha256: None,
        details: json!({"name": c.name, "documents": c.documents}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The collection's members (owner and admins have access without being members).
#[utoipa::path(get, path = "/api/v1/collections/{id}/members", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = [Object]), (status = 404)))]
async fn members(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Member>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    collection(&mut tx, &who, id, Access::Read).await?;
    let all = knowledge::members(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemberChange {
    user_id: Uuid,
    /// `read`, `write`, or `none` to remove the member.
    #[schema(example = "read")]
    access: String,
}

/// Gives a user `read` or `write` access, or removes them (`none`); owner or admin.
#[utoipa::path(post, path = "/api/v1/collections/{id}/members", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = MemberChange, responses((status = 200, body = [Object]), (status = 404), (status = 422)))]
async fn set_member(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<MemberChange>,
) -> ApiResult<Json<Vec<Member>>> {
    who.require(Role::Creator)?;
    let access = match body.value.access.as_str() {
        "read" => Some(Access::Read),
        "write" => Some(Access::Write),
        "none" => None,
        _ => return Err(ApiError::validation("access", "one of read, write, none")),
    };
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = collection(&mut tx, &who, id, Access::Manage).await?;
    let user = body.value.user_id;
    if user == c.owner_id {
        return Err(ApiError::validation(
            "userId",
            "the owner always has access",
        ));
    }
    match access {
        Some(a) => knowledge::set_member(&mut tx, who.tenant, id, user, a).await?,
        None => knowledge::remove_member(&mut tx, id, user).await?,
    }
    let change = Change {
        action: "collection.member",
        target_type: "collection",
        target_id: id.to_string(),
        payload_sha256: Some(&body.sha256),
        details: json!({"userId": user, "access": body.value.access}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    let all = knowledge::members(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all))
}

/// The collection's documents with their ingest status, newest first.
#[utoipa::path(get, path = "/api/v1/collections/{id}/documents", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = [Object]), (status = 404)))]
async fn documents(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Document>>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    collection(&mut tx, &who, id, Access::Read).await?;
    let all = knowledge::list_documents(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewDocument {
    /// An upload of the caller's (`POST /api/v1/files`). Exactly one of `fileId` and `url`.
    file_id: Option<Uuid>,
    /// An http(s) URL (at most 2048 characters, no user name or password) the server
    /// fetches through its outbound policy, bounded by the upload limit and 20 s, and keeps
    /// as the caller's upload; the document records it as `sourceUrl`. Failures keep
    /// nothing: `url_refused` (422, the outbound policy), `url_unreachable` (422: no
    /// connection, a timeout or an error status upstream), `url_too_large` (413).
    #[schema(example = "https://example.com/handbook.pdf", max_length = 2048)]
    url: Option<String>,
}

/// Where a new document's bytes come from.
enum Source {
    Upload(Uuid),
    Url(url::Url),
}

impl NewDocument {
    fn source(&self) -> ApiResult<Source> {
        match (self.file_id, &self.url) {
            (Some(id), None) => Ok(Source::Upload(id)),
            (None, Some(url)) => Ok(Source::Url(url_fetch::parse(url)?)),
            (Some(_), Some(_)) => Err(ApiError::validation(
                "url",
                "give either fileId or url, not both",
            )),
            (None, None) => Err(ApiError::validation("fileId", "give fileId or url")),
        }
    }
}

/// Adds an upload, or a document fetched from a URL, to the collection and queues its
/// ingest. A file with the same name as a document already there is that document's new
/// version: it is ingested again and replaces the old passages when ready (200);
/// otherwise a new document (201).
#[utoipa::path(post, path = "/api/v1/collections/{id}/documents", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = NewDocument,
    responses((status = 201, body = Object), (status = 200, body = Object), (status = 404),
              (status = 413, description = "`url_too_large`"),
              (status = 422, description = "`validation_failed`, `url_refused` or `url_unreachable`"),
              (status = 503)))]
async fn add_document(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
    body: Payload<NewDocument>,
) -> ApiResult<(StatusCode, Json<Document>)> {
    who.require(Role::Creator)?;
    let source = body.value.source()?;
    let url = match source {
        Source::Upload(file_id) => {
            let mut tx = state.store.tenant(who.tenant).await?;
            collection(&mut tx, &who, id, Access::Write).await?;
            let file = match access::file(&mut tx, &who.reader(), file_id).await {
                Ok(f) => f,
                Err(StoreError::NotFound) => {
                    return Err(ApiError::validation("fileId", "no such upload of yours"))
                }
                Err(e) => return Err(e.into()),
            };
            let added = add_file(&mut tx, &who, &meta, &body.sha256, id, &file, None).await?;
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(added);
        }
        Source::Url(url) => url,
    };
    // Access first, so that nobody without it makes the server fetch anything; no
    // transaction stays open while the fetch runs.
    let mut tx = state.store.tenant(who.tenant).await?;
    collection(&mut tx, &who, id, Access::Write).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let fetched = url_fetch::fetch(&state, &who, &url).await?;
    let recorded = async {
        let mut tx = state.store.tenant(who.tenant).await?;
        collection(&mut tx, &who, id, Access::Write).await?;
        let file = fetched
            .stored
            .record(&mut tx, &who, &fetched.filename, &fetched.mime)
            .await?;
        let added = add_file(
            &mut tx,
            &who,
            &meta,
            &body.sha256,
            id,
            &file,
            Some(url.as_str()),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        ApiResult::Ok(added)
    }
    .await;
    if recorded.is_err() {
        fetched.stored.discard(&state).await;
    }
    recorded
}

/// Makes `file` the collection's document of its name (a new one, 201, or that
/// document's next version, 200) and queues its ingest, audited, in the caller's
/// transaction.
async fn add_file(
    tx: &mut TenantTx,
    who: &Principal,
    meta: &ClientMeta,
    payload_sha256: &[u8],
    collection: Uuid,
    file: &files::File,
    source_url: Option<&str>,
) -> ApiResult<(StatusCode, Json<Document>)> {
    let existing = knowledge::document_by_title(tx, collection, &file.filename).await?;
    let (status, doc) = match existing {
        Some(old) => {
            if let Some(job) = old
                .job_id
                .filter(|_| old.status == "queued" || old.status == "processing")
            {
                penny_queue::cancel(tx, JobId(job)).await?;
            }
            let version = knowledge::NewVersion {
                file_id: file.id,
                mime: &file.mime,
                bytes: file.size,
                sha256: &file.sha256,
                source_url,
            };
            let doc = knowledge::requeue_document(tx, old.id, Some(version)).await?;
            (StatusCode::OK, doc)
        }
        None => {
            let doc = knowledge::create_document(
                tx,
                who.tenant,
                knowledge::NewDocument {
                    collection,
                    file_id: Some(file.id),
                    source_url,
                    title: &file.filename,
                    mime: &file.mime,
                    bytes: file.size,
                    sha256: Some(&file.sha256),
                    created_by: who.user,
                },
            )
            .await?;
            (StatusCode::CREATED, doc)
        }
    };
    let doc = queue_ingest(tx, who, doc).await?;
    let mut details =
        json!({"collectionId": collection, "fileId": file.id, "version": doc.version});
    if let Some(url) = source_url {
        details["sourceUrl"] = json!(penny_outbound::redact(url));
    }
    let change = Change {
        action: "document.add",
        target_type: "document",
        target_id: doc.id.to_string(),
        payload_sha256: Some(payload_sha256),
        details,
    };
    trail::record(tx, who, meta, change).await?;
    Ok((status, Json(doc)))
}

/// Enqueues the ingest of the document's current version, in the caller's transaction.
async fn queue_ingest(tx: &mut TenantTx, who: &Principal, doc: Document) -> ApiResult<Document> {
    let payload = IngestPayload {
        document_id: doc.id,
        version: doc.version,
    };
    let mut job = NewJob::new(
        ingest::QUEUE,
        ingest::JOB_NAME,
        serde_json::to_value(&payload).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    job.timeout = INGEST_TIMEOUT;
    job.created_by = Some(who.user.0);
    let job = penny_queue::enqueue(tx, job).await?;
    knowledge::set_document_job(tx, doc.id, job.0).await?;
    Ok(knowledge::get_document(tx, doc.id).await?)
}

/// The document and its collection, if the caller has at least `need` on the collection.
async fn document_with(
    tx: &mut TenantTx,
    who: &Principal,
    id: Uuid,
    need: Access,
) -> ApiResult<Document> {
    let doc = knowledge::get_document(tx, id).await?;
    collection(tx, who, doc.collection_id, need).await?;
    Ok(doc)
}

/// A document with its ingest status and progress (pages and passages done).
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn document(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Document>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let doc = document_with(&mut tx, &who, id, Access::Read).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(doc))
}

/// The document's file, for anyone who may read the collection (to open a cited page).
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200), (status = 404)))]
async fn document_content(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let doc = document_with(&mut tx, &who, id, Access::Read).await?;
    let file = files::get(&mut tx, doc.file_id.ok_or(ApiError::NotFound)?).await?;
    tx.commit().await.map_err(StoreError::from)?;
    serve(
        &state.tools.objects,
        &headers,
        Served {
            bucket: Bucket::Uploads,
            key: &file.object_key,
            mime: &file.mime,
            sha256: &file.sha256,
            cache: "private, max-age=3600",
            // PDFs open in the browser's viewer (at a page, with `#page=N`).
            download_as: (file.mime != "application/pdf" && !file.mime.starts_with("text/"))
                .then_some(file.filename.as_str()),
        },
    )
    .await
}

/// Removes a document and its passages (its upload stays); a running ingest stops.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_document(
    State(state): State<AppState>,
    who: Principal,
    meta: ClientMeta,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    who.require(Role::Creator)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    document_with(&mut tx, &who, id, Access::Write).await?;
    if let Some(job) = knowledge::cancel_ingest(&mut tx, id).await? {
        penny_queue::cancel(&mut tx, JobId(job)).await?;
    }
    let doc = knowledge::delete_document(&mut tx, id).await?;
    let change = Change {
        action: "document.delete",
        target_type: "document",
        target_id: id.to_string(),
        payload_sha256: None,
        details: json!({"collectionId": doc.collection_id, "title": doc.title}),
    };
    trail::record(&mut tx, &who, &meta, change).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops a queued or running ingest; the document ends `cancelled` with no passages of
/// that version (an earlier ready version stays searchable). 409 when it is not running.
#[utoipa::path(post, path = "/api/v1/documents/{id}/cancel", extensions(("x-penny-role" = json!("creator"))),
    tag = "knowledge", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Object), (status = 404), (status = 409)))]
async fn cancel(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Document>> {
    who.require(Role::Creator)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let doc = document_with(&mut tx, &who, id, Access::Write).await?;
    if !matches!(doc.status.as_str(), "queued" | "processing") {
        return Err(ApiError::Conflict(format!(
            "the document is {}, not being ingested",
            doc.status
        )));
    }
    if let Some(job) = knowledge::cancel_ingest(&mut tx, id).await? {
        penny_queue::cancel(&mut tx, JobId(job)).await?;
    }
    let doc = knowledge::get_document(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(doc))
}

/// One passage (what a citation points to), if its collection is readable.
#[utoipa::path(get, path = "/api/v1/passages/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn passage(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Passage>> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let p = knowledge::passage(&mut tx, id).await?;
    collection(&mut tx, &who, p.collection_id, Access::Read).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(p))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchRequest {
    #[schema(example = "What is the refund policy?")]
    query: String,
    /// Collections to search; all the caller can read when left out or empty.
    #[serde(default)]
    collections: Vec<Uuid>,
    /// Only these documents, when given.
    documents: Option<Vec<Uuid>>,
    /// Passages to return (1–50, default 8).
    k: Option<i64>,
    /// `hybrid` (default), or `vector` / `keyword` alone, to compare.
    #[schema(example = "hybrid")]
    mode: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    #[schema(value_type = [Object])]
    passages: Vec<Passage>,
    took_ms: f64,
}

/// Hybrid search (embeddings, full text and trigrams fused by rank) over collections
/// the caller can read; passages with their document, page and character offsets.
#[utoipa::path(post, path = "/api/v1/search", tag = "knowledge", security(("bearer" = [])),
    request_body = SearchRequest,
    responses((status = 200, body = SearchResult), (status = 404), (status = 422), (status = 503)))]
async fn search(
    State(state): State<AppState>,
    who: Principal,
    body: Payload<SearchRequest>,
) -> ApiResult<Json<SearchResult>> {
    let started = Instant::now();
    let req = body.value;
    let mode = match req.mode.as_deref() {
        None => penny_knowledge::search::Mode::Hybrid,
        Some(m) => penny_knowledge::search::Mode::parse(m)
            .ok_or_else(|| ApiError::validation("mode", "one of hybrid, vector, keyword"))?,
    };
    let request = penny_knowledge::search::Request {
        mode,
        query: &req.query,
        collections: &req.collections,
        documents: req.documents.as_deref(),
        k: req.k.unwrap_or(penny_knowledge::DEFAULT_K),
    };
    let passages = penny_knowledge::search::search(
        &state.store,
        &state.tools.embedders,
        who.tenant,
        who.reader(),
        &request,
    )
    .await?;
    Ok(Json(SearchResult {
        passages,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}
