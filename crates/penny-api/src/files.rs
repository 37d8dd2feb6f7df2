//! Uploads: `POST /api/v1/files` (multipart, one `file` part) streams the body to object
//! storage with its size checked as it arrives and its type sniffed from the first bytes.
//! The client's file name is kept as metadata only; the object key is made of ids.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use penny_objects::{Bucket, ObjectKey};
use penny_store::files::{self, File, NewFile};
use penny_store::{access, Role, StoreError, TenantTx};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::objects::{serve, Served};
use crate::AppState;

/// Uploads get their own body limit (the JSON API's is much smaller).
pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/files",
            post(upload).layer(DefaultBodyLimit::max(
                upload_limit.saturating_add(64 * 1024),
            )),
        )
        .route("/files/{id}", get(one))
        .route("/files/{id}/content", get(content))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    id: Uuid,
    /// The name the client gave (display only).
    filename: String,
    /// Sniffed from the content, not taken from the client.
    mime: String,
    size: i64,
    sha256: String,
    created_at: DateTime<Utc>,
}

impl From<File> for FileView {
    fn from(f: File) -> Self {
        FileView {
            id: f.id,
            filename: f.filename,
            mime: f.mime,
            size: f.size,
            sha256: f.sha256,
            created_at: f.created_at,
        }
    }
}

/// Keeps a client's file name printable and short; it is never used in a path.
pub(crate) fn display_name(raw: Option<&str>) -> String {
    let cleaned: String = raw
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "upload".into()
    } else {
        trimmed.to_string()
    }
}

/// The content type of `head` (the first bytes): known binary formats by their magic
/// numbers, then text kinds (JSON, CSV, plain), else `application/octet-stream`.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    // A multi-byte character may be cut at the end of the sample.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return "application/octet-stream".into(),
    };
    if text.contains('\0') {
        return "application/octet-stream".into();
    }
    let t = text.trim_start();
    if t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg")) {
        return "image/svg+xml".into();
    }
    if (t.starts_with('{') || t.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(text).is_ok()
    {
        return "application/json".into();
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let commas = lines.first().map(|l| l.matches(',').count()).unwrap_or(0);
    if lines.len() >= 2 && commas > 0 && lines.iter().all(|l| l.matches(',').count() == commas) {
        return "text/csv".into();
    }
    "text/plain".into()
}

/// Uploads one file (multipart field `file`); 413 past the upload limit.
#[utoipa::path(post, path = "/api/v1/files", extensions(("x-penny-role" = json!("creator"))), tag = "files", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "one part named `file`"),
    responses((status = 201, body = FileView), (status = 413), (status = 422)))]
async fn upload(
    State(state): State<AppState>,
    who: Principal,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    who.require(Role::Creator)?;
    let limit = state.tools.upload_limit_bytes;
    let mut field = loop {
        match form.next_field().await.map_err(multipart_error)? {
            Some(f) if f.name() == Some("file") => break f,
            Some(_) => continue,
            None => {
                return Err(ApiError::validation(
                    "file",
                    "a multipart part named `file` is required",
                ))
            }
        }
    };
    let filename = display_name(field.file_name());
    // The first chunk decides the type; the rest streams through with the size checked.
    let mut head = Vec::new();
    while head.len() < 8192 {
        match field.chunk().await.map_err(multipart_error)? {
            Some(c) => head.extend_from_slice(&c),
            None => break,
        }
    }
    if head.len() > limit {
        return Err(ApiError::PayloadTooLarge);
    }
    let mime = sniff(&head[..head.len().min(8192)]);
    let first = Bytes::from(head);
    let rest = futures::stream::unfold(field, |mut f| async move {
        match f.chunk().await {
            Ok(Some(c)) => Some((Ok(c), f)),
            Ok(None) => None,
            Err(e) => Some((Err(BodyError::Read(e.body_text())), f)),
        }
    });
    let body = futures::stream::once(async move { Ok::<_, BodyError>(first) }).chain(rest);
    let stored = store(&state, &who, body).await.map_err(|e| match e {
        Stopped::Body(BodyError::TooLarge) => ApiError::PayloadTooLarge,
        Stopped::Body(BodyError::Read(m)) => ApiError::InvalidBody(format!("multipart body: {m}")),
        Stopped::Api(e) => e,
    })?;
    let mut tx = state.store.tenant(who.tenant).await?;
    let file = stored.record(&mut tx, &who, &filename, &mime).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(file.into())))
}

/// Why an upload's body stopped.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Past the upload limit.
    TooLarge,
    /// The source of the bytes failed; the message is safe to show.
    Read(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("upload exceeds the size limit"),
            BodyError::Read(m) => write!(f, "reading the upload failed: {m}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Why storing an upload failed: its body (the caller says what that means to its
/// client), or anything else.
#[derive(Debug)]
pub(crate) enum Stopped {
    Body(BodyError),
    Api(ApiError),
}

/// An upload's bytes in object storage, not yet a file row.
pub(crate) struct Stored {
    id: Uuid,
    key: ObjectKey,
    size: u64,
    sha256: String,
}

/// Streams `body` into object storage as an upload of the caller's, bounded by the upload
/// limit as it arrives (nothing is kept when it stops). The one way an upload's bytes are
/// stored: `POST /files` and a document added by URL.
pub(crate) async fn store<S>(state: &AppState, who: &Principal, body: S) -> Result<Stored, Stopped>
where
    S: futures::Stream<Item = Result<Bytes, BodyError>> + Send,
{
    let limit = state.tools.upload_limit_bytes;
    let mut seen = 0usize;
    let body = body.map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            return Err(BodyError::TooLarge);
        }
        Ok(chunk)
    });
    let id = Uuid::new_v4();
    let key = ObjectKey::new(who.tenant.0, "files", &id.to_string())
        .map_err(|e| Stopped::Api(e.into()))?;
    let put = state
        .tools
        .objects
        .put_stream(Bucket::Uploads, &key, body)
        .await
        .map_err(|e| match e {
            penny_objects::ObjectsError::Body(b) => match b.downcast::<BodyError>() {
                Ok(b) => Stopped::Body(*b),
                Err(b) => Stopped::Api(ApiError::InvalidBody(b.to_string())),
            },
            e => Stopped::Api(e.into()),
        })?;
    Ok(Stored {
        id,
        key,
        size: put.size,
        sha256: put.sha256,
    })
}

impl Stored {
    /// The file row for the stored bytes, in the caller's transaction.
    pub(crate) async fn record(
        &self,
        tx: &mut TenantTx,
        who: &Principal,
        filename: &str,
        mime: &str,
    ) -> ApiResult<File> {
        Ok(files::create(
            tx,
            who.tenant,
            who.user,
            NewFile {
                id: self.id,
                filename,
                mime,
                size: i64::try_from(self.size).unwrap_or(i64::MAX),
                sha256: &self.sha256,
                object_key: self.key.as_str(),
            },
        )
        .await?)
    }

    /// Deletes the stored bytes when their row was never made (best effort: logged).
    pub(crate) async fn discard(self, state: &AppState) {
        if let Err(e) = state.tools.objects.delete(Bucket::Uploads, &self.key).await {
            tracing::warn!(key = %self.key, error = %e, "deleting an unrecorded upload failed");
        }
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidBody(format!("multipart body: {}", e.body_text()))
    }
}

/// The file if the caller may read it, else `NotFound` (the store's one rule).
async fn readable(state: &AppState, who: &Principal, id: Uuid) -> ApiResult<File> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let f = access::file(&mut tx, &who.reader(), id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(f)
}

/// An uploaded file's metadata.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = FileView), (status = 404)))]
async fn one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<FileView>> {
    Ok(Json(readable(&state, &who, id).await?.into()))
}

/// An uploaded file's bytes (always as a download).
#[utoipa::path(get, path = "/api/v1/files/{id}/content", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200), (status = 404)))]
async fn content(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let f = readable(&state, &who, id).await?;
    serve(
        &state.tools.objects,
        &headers,
        Served {
            bucket: Bucket::Uploads,
            key: &f.object_key,
            mime: &f.mime,
            sha256: &f.sha256,
            cache: "private, max-age=3600",
            download_as: Some(&f.filename),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"a,b\n1,2\n3,4\n"), "text/csv");
        assert_eq!(sniff(b"{\"a\": 1}"), "application/json");
        assert_eq!(sniff(b"hello"), "text/plain");
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
            "image/svg+xml"
        );
        assert_eq!(sniff(&[0, 159, 146, 150]), "application/octet-stream");
    }
}
