//! Knowledge (migration 0027): collections with their members, documents and their
//! ingest state, chunks with embeddings, and the hybrid search over them.
//!
//! Who may see a collection: its owner, its members, and the tenant's admins; a member
//! with `write` (and the owner, and admins) may add and remove documents; the owner and
//! admins manage members and the collection itself. Everyone else gets `NotFound`, as if
//! it did not exist.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::access::Reader;
use crate::{StoreError, TenantId, UserId};

/// What a user may do with a collection, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
    /// The owner, or an admin: manages members, renames, deletes.
    Manage,
}

impl Access {
    fn parse(s: &str) -> Access {
        match s {
            "manage" => Access::Manage,
            "write" => Access::Write,
            _ => Access::Read,
        }
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub description: String,
    pub embedding_model: String,
    pub embedding_dims: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Counts over its documents.
    pub documents: i64,
    pub ready: i64,
    pub chunks: i64,
    pub bytes: i64,
    /// The caller's access (`read`, `write`, `manage`).
    #[serde(serialize_with = "access_str")]
    pub access: String,
}

fn access_str<S: serde::Serializer>(a: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a)
}

impl Collection {
    pub fn access(&self) -> Access {
        Access::parse(&self.access)
    }
}

/// The caller's access to each collection: `manage` for admins and owners, else a
/// membership's; a row only where there is some.
const VISIBLE: &str = "\
    SELECT c.*, CASE WHEN $2 OR c.owner_id = $1 THEN 'manage' ELSE m.access END AS access \
    FROM collections c \
    LEFT JOIN collection_members m ON m.collection_id = c.id AND m.user_id = $1 \
    WHERE ($2 OR c.owner_id = $1 OR m.user_id IS NOT NULL)";

const COLLECTION_COLUMNS: &str = "v.id, v.owner_id, v.name, v.description, v.embedding_model, \
    v.embedding_dims, v.created_at, v.updated_at, v.access, \
    count(d.id) AS documents, count(d.id) FILTER (WHERE d.status = 'ready') AS ready, \
    coalesce(sum(d.chunks) FILTER (WHERE d.status = 'ready'), 0)::bigint AS chunks, \
    coalesce(sum(d.bytes), 0)::bigint AS bytes";

pub struct NewCollection<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub embedding_model: &'a str,
    pub embedding_dims: i32,
}

pub async fn create_collection(
    conn: &mut PgConnection,
    tenant: TenantId,
    owner: UserId,
    c: NewCollection<'_>,
) -> Result<Uuid, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO collections (tenant_id, owner_id, name, description, embedding_model, \
         embedding_dims) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant)
    .bind(owner)
    .bind(c.name.trim())
    .bind(c.description)
    .bind(c.embedding_model)
    .bind(c.embedding_dims)
    .fetch_one(conn)
    .await?)
}

/// The collections `reader` may see, newest first, with their counts.
pub async fn list_collections(
    conn: &mut PgConnection,
    reader: Reader,
) -> Result<Vec<Collection>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLLECTION_COLUMNS} FROM ({VISIBLE}) v \
         LEFT JOIN documents d ON d.collection_id = v.id \
         GROUP BY v.id, v.owner_id, v.name, v.description, v.embedding_model, \
           v.embedding_dims, v.created_at, v.updated_at, v.access \
         ORDER BY v.created_at DESC"
    ))
    .bind(reader.user)
    .bind(reader.admin)
    .fetch_all(conn)
    .await?)
}

/// One collection, if `reader` may see it (else `NotFound`).
pub async fn get_collection(
    conn: &mut PgConnection,
    reader: Reader,
    id: Uuid,
) -> Result<Collection, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {COLLECTION_COLUMNS} FROM ({VISIBLE} AND c.id = $3) v \
         LEFT JOIN documents d ON d.collection_id = v.id \
         GROUP BY v.id, v.owner_id, v.name, v.description, v.embedding_model, \
           v.embedding_dims, v.created_at, v.updated_at, v.access"
    ))
    .bind(reader.user)
    .bind(reader.admin)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// A collection a reader may read: what a search groups by model, and what a message's
/// picked collections are checked and named by.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Readable {
    pub id: Uuid,
    pub name: String,
    pub embedding_model: String,
    pub embedding_dims: i32,
}

/// The collections among `ids` that `reader` may read (all visible ones when `ids` is
/// empty).
pub async fn readable(
    conn: &mut PgConnection,
    reader: Reader,
    ids: &[Uuid],
) -> Result<Vec<Readable>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT v.id, v.name, v.embedding_model, v.embedding_dims FROM ({VISIBLE}) v \
         WHERE cardinality($3::uuid[]) = 0 OR v.id = ANY($3)"
    ))
    .bind(reader.user)
    .bind(reader.admin)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// The model a collection's chunks are embedded with, its dimensions and its epoch
/// (migration 0029). Read under a share lock: a change of model that is committing is
/// waited for, so an ingest never starts with the model being replaced.
pub async fn collection_embedding(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(String, i32, i32), StoreError> {
    sqlx::query_as(
        "SELECT embedding_model, embedding_dims, embedding_epoch FROM collections \
         WHERE id = $1 FOR SHARE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Embeds the collection with another model from now on: its epoch goes up, and every
/// document with a file gets a new version, `queued` (the caller enqueues their ingests).
/// Until a document's new version is ready its old passages are found by keyword only.
/// Returns those documents and the ingest jobs of the versions they replace (to cancel).
pub async fn change_embedding(
    conn: &mut PgConnection,
    id: Uuid,
    model: &str,
    dims: i32,
) -> Result<(Vec<Document>, Vec<Uuid>), StoreError> {
    let done = sqlx::query(
        "UPDATE collections SET embedding_model = $2, embedding_dims = $3, \
         embedding_epoch = embedding_epoch + 1, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(model)
    .bind(dims)
    .execute(&mut *conn)
    .await?;
    StoreError::found(done.rows_affected())?;
    let jobs: Vec<Uuid> = sqlx::query_scalar(
        "SELECT job_id FROM documents WHERE collection_id = $1 \
         AND status IN ('queued', 'processing') AND job_id IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let docs = sqlx::query_as(&format!(
        "UPDATE documents SET version = version + 1, status = 'queued', error = NULL, \
         pages_done = 0, chunks_done = 0, job_id = NULL, updated_at = now() \
         WHERE collection_id = $1 AND file_id IS NOT NULL RETURNING {DOCUMENT_COLUMNS}"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok((docs, jobs))
}

pub async fn update_collection(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE collections SET name = coalesce($2, name), \
         description = coalesce($3, description), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(name.map(str::trim))
    .bind(description)
    .execute(conn)
    .await?;
    StoreError::found(done.rows_affected())
}

/// Deletes the collection with its documents and chunks; returns the ingest jobs still
/// running for it, which the caller cancels.
pub async fn delete_collection(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let jobs: Vec<Uuid> = sqlx::query_scalar(
        "SELECT job_id FROM documents WHERE collection_id = $1 \
         AND status IN ('queued', 'processing') AND job_id IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM collections WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    StoreError::found(done.rows_affected())?;
    Ok(jobs)
}

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub access: String,
    pub added_at: DateTime<Utc>,
}

pub async fn members(conn: &mut PgConnection, collection: Uuid) -> Result<Vec<Member>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT m.user_id, u.email, coalesce(u.display_name, '') AS name, m.access, m.added_at FROM collection_members m \
         JOIN users u ON u.id = m.user_id WHERE m.collection_id = $1 ORDER BY m.added_at",
    )
    .bind(collection)
    .fetch_all(conn)
    .await?)
}

/// Adds `user` with `access` (`read` or `write`), or changes their access.
pub async fn set_member(
    conn: &mut PgConnection,
    tenant: TenantId,
    collection: Uuid,
    user: Uuid,
    access: Access,
) -> Result<(), StoreError> {
    let access = match access {
        Access::Read => "read",
        Access::Write | Access::Manage => "write",
    };
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(StoreError::Invalid {
            field: "userId",
            message: "no such user in this tenant".into(),
        });
    }
    sqlx::query(
        "INSERT INTO collection_members (tenant_id, collection_id, user_id, access) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (collection_id, user_id) DO UPDATE SET access = EXCLUDED.access",
    )
    .bind(tenant)
    .bind(collection)
    .bind(user)
    .bind(access)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_member(
    conn: &mut PgConnection,
    collection: Uuid,
    user: Uuid,
) -> Result<(), StoreError> {
    let done =
        sqlx::query("DELETE FROM collection_members WHERE collection_id = $1 AND user_id = $2")
            .bind(collection)
            .bind(user)
            .execute(conn)
            .await?;
    StoreError::found(done.rows_affected())
}

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: Uuid,
    pub collection_id: Uuid,
    pub file_id: Option<Uuid>,
    pub source_url: Option<String>,
    pub title: String,
    pub mime: String,
    pub bytes: i64,
    pub status: String,
    pub error: Option<String>,
    pub pages: Option<i32>,
    pub chunks: i32,
    pub pages_done: i32,
    pub chunks_done: i32,
    pub version: i32,
    #[serde(skip)]
    pub generation: Option<i32>,
    pub job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
}

const DOCUMENT_COLUMNS: &str = "id, collection_id, file_id, source_url, title, mime, bytes, \
    status, error, pages, chunks, pages_done, chunks_done, version, generation, job_id, \
    created_by, created_at, updated_at, ready_at";

pub struct NewDocument<'a> {
    pub collection: Uuid,
    pub file_id: Option<Uuid>,
    pub source_url: Option<&'a str>,
    pub title: &'a str,
    pub mime: &'a str,
    pub bytes: i64,
    pub sha256: Option<&'a str>,
    pub created_by: UserId,
}

/// The document of `collection` with this title, if any (a file uploaded again under the
/// same name is that document's new version).
pub async fn document_by_title(
    conn: &mut PgConnection,
    collection: Uuid,
    title: &str,
) -> Result<Option<Document>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE collection_id = $1 AND title = $2 \
         ORDER BY created_at LIMIT 1"
    ))
    .bind(collection)
    .bind(title)
    .fetch_optional(conn)
    .await?)
}

pub async fn create_document(
    conn: &mut PgConnection,
    tenant: TenantId,
    d: NewDocument<'_>,
) -> Result<Document, StoreError> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO documents (tenant_id, collection_id, file_id, source_url, title, mime, \
         bytes, sha256, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING {DOCUMENT_COLUMNS}"
    ))
    .bind(tenant)
    .bind(d.collection)
    .bind(d.file_id)
    .bind(d.source_url)
    .bind(d.title)
    .bind(d.mime)
    .bind(d.bytes)
    .bind(d.sha256)
    .bind(d.created_by)
    .fetch_one(conn)
    .await?)
}

/// A document's new version: another upload of the same name, from a URL or not.
pub struct NewVersion<'a> {
    pub file_id: Uuid,
    pub mime: &'a str,
    pub bytes: i64,
    pub sha256: &'a str,
    /// Where this version was fetched from (`None`: an upload).
    pub source_url: Option<&'a str>,
}

/// Asks for the document to be ingested again (a new version of its file, or with `None`
/// a new embedding model): a new version, back to `queued` (its job is set next).
pub async fn requeue_document(
    conn: &mut PgConnection,
    id: Uuid,
    file: Option<NewVersion<'_>>,
) -> Result<Document, StoreError> {
    sqlx::query_as(&format!(
        "UPDATE documents SET version = version + 1, status = 'queued', error = NULL, \
         pages_done = 0, chunks_done = 0, job_id = NULL, updated_at = now(), \
         file_id = coalesce($2, file_id), mime = coalesce($3, mime), \
         bytes = coalesce($4, bytes), sha256 = coalesce($5, sha256), \
         source_url = CASE WHEN $2 IS NULL THEN source_url ELSE $6 END \
         WHERE id = $1 RETURNING {DOCUMENT_COLUMNS}"
    ))
    .bind(id)
    .bind(file.as_ref().map(|f| f.file_id))
    .bind(file.as_ref().map(|f| f.mime))
    .bind(file.as_ref().map(|f| f.bytes))
    .bind(file.as_ref().map(|f| f.sha256))
    .bind(file.as_ref().and_then(|f| f.source_url))
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

pub async fn set_document_job(
    conn: &mut PgConnection,
    id: Uuid,
    job: Uuid,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE documents SET job_id = $2 WHERE id = $1")
        .bind(id)
        .bind(job)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list_documents(
    conn: &mut PgConnection,
    collection: Uuid,
) -> Result<Vec<Document>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE collection_id = $1 \
         ORDER BY created_at DESC, id"
    ))
    .bind(collection)
    .fetch_all(conn)
    .await?)
}

pub async fn get_document(conn: &mut PgConnection, id: Uuid) -> Result<Document, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// The upload `doc` reads from: its object key, file name and type (`None` when the
/// document has no file, or its file is gone).
pub async fn file_source(
    conn: &mut PgConnection,
    doc: &Document,
) -> Result<Option<(String, String, String)>, StoreError> {
    let Some(file) = doc.file_id else {
        return Ok(None);
    };
    Ok(
        sqlx::query_as("SELECT object_key, filename, mime FROM files WHERE id = $1")
            .bind(file)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn delete_document(conn: &mut PgConnection, id: Uuid) -> Result<Document, StoreError> {
    sqlx::query_as(&format!(
        "DELETE FROM documents WHERE id = $1 RETURNING {DOCUMENT_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Starts ingesting `version` of the document: `processing`, with the chunks of any
/// earlier unfinished attempt at it gone. `None` when that version is no longer wanted
/// (cancelled, deleted, or replaced by a newer version).
pub async fn begin_ingest(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
) -> Result<Option<Document>, StoreError> {
    let doc: Option<Document> = sqlx::query_as(&format!(
        "UPDATE documents SET status = 'processing', error = NULL, pages_done = 0, \
         chunks_done = 0, updated_at = now() \
         WHERE id = $1 AND version = $2 AND status IN ('queued', 'processing') \
         RETURNING {DOCUMENT_COLUMNS}"
    ))
    .bind(id)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    if doc.is_some() {
        sqlx::query("DELETE FROM chunks WHERE document_id = $1 AND generation = $2")
            .bind(id)
            .bind(version)
            .execute(conn)
            .await?;
    }
    Ok(doc)
}

/// Whether `version` of the document is still being ingested (not cancelled, deleted or
/// replaced); asked between batches so a cancel stops the work soon.
pub async fn still_wanted(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
) -> Result<bool, StoreError> {
    let wanted: Option<bool> = sqlx::query_scalar(
        "SELECT status = 'processing' FROM documents WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(wanted.unwrap_or(false))
}

pub async fn ingest_progress(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
    pages: i32,
    pages_done: i32,
    chunks_done: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE documents SET pages = $3, pages_done = $4, chunks_done = $5, updated_at = now() \
         WHERE id = $1 AND version = $2 AND status = 'processing'",
    )
    .bind(id)
    .bind(version)
    .bind(pages)
    .bind(pages_done)
    .bind(chunks_done)
    .execute(conn)
    .await?;
    Ok(())
}

/// A passage to store: text, where it is, and its embedding.
pub struct NewChunk<'a> {
    pub ordinal: i32,
    pub page: i32,
    pub start: i32,
    pub end: i32,
    pub heading: &'a str,
    pub content: &'a str,
    pub embedding: &'a [f32],
}

/// Stores passages of `version` of a document (invisible to searches until
/// [`finish_ingest`] makes that version the document's), unless that version stopped
/// being wanted meanwhile (then nothing is stored).
pub async fn insert_chunks(
    conn: &mut PgConnection,
    tenant: TenantId,
    collection: Uuid,
    document: Uuid,
    version: i32,
    chunks: &[NewChunk<'_>],
) -> Result<(), StoreError> {
    if chunks.is_empty() {
        return Ok(());
    }
    let dims = chunks[0].embedding.len() as i32;
    let vectors: Vec<String> = chunks.iter().map(|c| vector_literal(c.embedding)).collect();
    sqlx::query(
        "INSERT INTO chunks (tenant_id, collection_id, document_id, generation, ordinal, page, \
         start_offset, end_offset, heading, content, dims, embedding) \
         SELECT $1, $2, $3, $4, o, p, s, e, h, c, $5, v::vector \
         FROM unnest($6::int[], $7::int[], $8::int[], $9::int[], $10::text[], $11::text[], \
           $12::text[]) AS t(o, p, s, e, h, c, v) \
         WHERE EXISTS (SELECT 1 FROM documents WHERE id = $3 AND version = $4 \
                       AND status = 'processing')",
    )
    .bind(tenant)
    .bind(collection)
    .bind(document)
    .bind(version)
    .bind(dims)
    .bind(chunks.iter().map(|c| c.ordinal).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.page).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.start).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.end).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.heading).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.content).collect::<Vec<_>>())
    .bind(vectors)
    .execute(conn)
    .await?;
    Ok(())
}

/// pgvector's text form; finite floats only (a NaN would be refused by the cast).
fn vector_literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let x = if x.is_finite() { *x } else { 0.0 };
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

/// Makes `version` the document's searchable one (`ready`), embedded in the collection's
/// `epoch`, and drops every other version's chunks, in the caller's transaction (the
/// job's completion). `false` when the version is no longer wanted: its chunks are
/// dropped instead.
pub async fn finish_ingest(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
    pages: i32,
    chunks: i32,
    epoch: i32,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE documents SET status = 'ready', generation = $2, pages = $3, pages_done = $3, \
         chunks = $4, chunks_done = $4, embedding_epoch = $5, error = NULL, ready_at = now(), \
         updated_at = now() WHERE id = $1 AND version = $2 AND status = 'processing'",
    )
    .bind(id)
    .bind(version)
    .bind(pages)
    .bind(chunks)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    let live = done.rows_affected() == 1;
    let keep: Option<i32> = sqlx::query_scalar("SELECT generation FROM documents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    sqlx::query(
        "DELETE FROM chunks WHERE document_id = $1 AND generation IS DISTINCT FROM $2 \
         AND ($3 OR generation = $4)",
    )
    .bind(id)
    .bind(keep)
    .bind(live)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(live)
}

/// Ends an ingest of `version` as `failed` (with why) or `cancelled`; its chunks go.
pub async fn end_ingest(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
    status: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE documents SET status = $3, error = $4, updated_at = now() \
         WHERE id = $1 AND version = $2 AND status IN ('queued', 'processing')",
    )
    .bind(id)
    .bind(version)
    .bind(status)
    .bind(error.map(|e| e.chars().take(2000).collect::<String>()))
    .execute(&mut *conn)
    .await?;
    drop_unready_version(conn, id, version).await
}

/// Drops what `version` of the document stored so far, unless it is the version searches
/// see (a ready earlier version stays).
async fn drop_unready_version(
    conn: &mut PgConnection,
    id: Uuid,
    version: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM chunks WHERE document_id = $1 AND generation = $2 \
         AND generation IS DISTINCT FROM (SELECT generation FROM documents WHERE id = $1)",
    )
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels the document's ingest if it is still queued or running; returns its job.
pub async fn cancel_ingest(conn: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, StoreError> {
    let job: Option<(Option<Uuid>, i32)> = sqlx::query_as(
        "UPDATE documents SET status = 'cancelled', error = 'cancelled', updated_at = now() \
         WHERE id = $1 AND status IN ('queued', 'processing') RETURNING job_id, version",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((job, version)) = job else {
        return Ok(None);
    };
    drop_unready_version(conn, id, version).await?;
    Ok(job)
}

/// A search: text and (when the collections have a model) its embedding.
pub struct Query<'a> {
    pub text: &'a str,
    /// Collections to search; with `embedding`, all embedded by its model (their
    /// passages of another size, or of a document not yet embedded in its collection's
    /// epoch, are left to the keyword rankings).
    pub collections: &'a [Uuid],
    /// Only these documents, when set.
    pub documents: Option<&'a [Uuid]>,
    pub embedding: Option<&'a [f32]>,
    /// Whether the keyword rankings (full text, trigrams) take part.
    pub keywords: bool,
    pub k: i64,
}

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub chunk_id: i64,
    pub document_id: Uuid,
    pub collection_id: Uuid,
    pub title: String,
    /// Where the document was fetched from, when it was added by URL.
    pub source_url: Option<String>,
    pub page: i32,
    pub start_offset: i32,
    pub end_offset: i32,
    pub heading: String,
    pub content: String,
    /// Reciprocal-rank fusion score (higher is better), and the ranks it came from.
    pub score: f64,
    pub vector_rank: Option<i64>,
    pub keyword_rank: Option<i64>,
    pub trigram_rank: Option<i64>,
}

/// Candidates each ranking contributes before fusion.
const CANDIDATES: i64 = 40;
/// The reciprocal-rank-fusion constant (as in the original paper).
const RRF_K: f64 = 60.0;

/// Hybrid search: nearest embeddings (HNSW, cosine), full-text (`tsvector`, terms OR'ed,
/// ranked by cover density) and trigram word similarity, fused by reciprocal rank. Only
/// chunks of their document's ready version are found.
pub async fn search(conn: &mut PgConnection, q: &Query<'_>) -> Result<Vec<Passage>, StoreError> {
    if q.collections.is_empty() || q.text.trim().is_empty() {
        return Ok(Vec::new());
    }
    // Iterative scans let the HNSW index look past neighbours the filters drop (pgvector
    // ≥ 0.8); `SET LOCAL` ends with the transaction.
    sqlx::query(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), \
                 set_config('hnsw.ef_search', '100', true)",
    )
    .execute(&mut *conn)
    .await?;
    let vector_part = match q.embedding {
        // The dimension is a number we computed, not input; the cast must name it.
        // Of the nearest candidates, only passages searches see whose document was
        // embedded in its collection's current epoch (by the model of the query's vector).
        Some(e) => {
            let d = e.len();
            format!(
                "SELECT n.id, row_number() OVER (ORDER BY n.dist, n.id) AS r FROM ( \
                   SELECT c.id, c.document_id, c.collection_id, c.generation, \
                     c.embedding::vector({d}) <=> $3::vector({d}) AS dist \
                   FROM chunks c WHERE c.dims = {d} \
                   AND c.collection_id = ANY($1) AND ($2::uuid[] IS NULL OR c.document_id = ANY($2)) \
                   ORDER BY c.embedding::vector({d}) <=> $3::vector({d}) LIMIT {CANDIDATES}) n \
                 JOIN documents d ON d.id = n.document_id AND d.generation = n.generation \
                 JOIN collections k ON k.id = n.collection_id \
                 WHERE d.embedding_epoch = k.embedding_epoch"
            )
        }
        None => "SELECT NULL::bigint AS id, NULL::bigint AS r WHERE false AND $3::text IS NULL"
            .to_string(),
    };
    let sql = format!(
        "WITH vec AS ({vector_part}), \
         tsq AS (SELECT replace(websearch_to_tsquery('english', $4)::text, ' & ', ' | ') AS t \
                 WHERE $6), \
         kw AS ( \
           SELECT c.id, row_number() OVER (ORDER BY ts_rank_cd(c.tsv, tsq.t::tsquery) DESC, c.id) AS r \
           FROM chunks c, tsq WHERE tsq.t <> '' AND c.tsv @@ tsq.t::tsquery \
           AND c.collection_id = ANY($1) AND ($2::uuid[] IS NULL OR c.document_id = ANY($2)) \
           ORDER BY ts_rank_cd(c.tsv, tsq.t::tsquery) DESC, c.id LIMIT {CANDIDATES}), \
         tri AS ( \
           SELECT c.id, row_number() OVER (ORDER BY word_similarity($4, c.content) DESC, c.id) AS r \
           FROM chunks c WHERE $6 AND $4 <% c.content \
           AND c.collection_id = ANY($1) AND ($2::uuid[] IS NULL OR c.document_id = ANY($2)) \
           ORDER BY word_similarity($4, c.content) DESC, c.id LIMIT {CANDIDATES}), \
         fused AS ( \
           SELECT id, sum(1.0 / ({RRF_K} + r))::float8 AS score, \
             min(r) FILTER (WHERE src = 'v') AS vector_rank, \
             min(r) FILTER (WHERE src = 'k') AS keyword_rank, \
             min(r) FILTER (WHERE src = 't') AS trigram_rank \
           FROM (SELECT id, r, 'v' AS src FROM vec UNION ALL SELECT id, r, 'k' FROM kw \
                 UNION ALL SELECT id, r, 't' FROM tri) ranked \
           GROUP BY id) \
         SELECT c.id AS chunk_id, c.document_id, c.collection_id, d.title, d.source_url, c.page, \
           c.start_offset, c.end_offset, c.heading, c.content, f.score, f.vector_rank, \
           f.keyword_rank, f.trigram_rank \
         FROM fused f JOIN chunks c ON c.id = f.id \
         JOIN documents d ON d.id = c.document_id AND d.generation = c.generation \
         ORDER BY f.score DESC, c.id LIMIT $5"
    );
    let embedding = q.embedding.map(vector_literal);
    Ok(sqlx::query_as(&sql)
        .bind(q.collections)
        .bind(q.documents)
        .bind(embedding)
        .bind(q.text)
        .bind(q.k)
        .bind(q.keywords)
        .fetch_all(conn)
        .await?)
}

/// A passage by id, if it is part of a ready document (citations link to it).
pub async fn passage(conn: &mut PgConnection, chunk: i64) -> Result<Passage, StoreError> {
    sqlx::query_as(
        "SELECT c.id AS chunk_id, c.document_id, c.collection_id, d.title, d.source_url, c.page, \
         c.start_offset, c.end_offset, c.heading, c.content, 0::float8 AS score, \
         NULL::bigint AS vector_rank, NULL::bigint AS keyword_rank, NULL::bigint AS trigram_rank \
         FROM chunks c JOIN documents d ON d.id = c.document_id AND d.generation = c.generation \
         WHERE c.id = $1",
    )
    .bind(chunk)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

#[cfg(test)]
mod tests {
    #[test]
    fn vectors_in_pgvector_text_form() {
        assert_eq!(super::vector_literal(&[1.0, -0.5, f32::NAN]), "[1,-0.5,0]");
    }
}
