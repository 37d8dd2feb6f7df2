//! Sends a stored object as an HTTP response: streamed (never buffered whole), with its
//! content type, length, a strong ETag from its SHA-256 (`If-None-Match` → 304), and a
//! sandboxing CSP so a user's or a model's HTML can never run scripts on PENNY's origin.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use penny_objects::{Bucket, ObjectKey, Objects};

use crate::error::ApiResult;

pub struct Served<'a> {
    pub bucket: Bucket,
    pub key: &'a str,
    pub mime: &'a str,
    pub sha256: &'a str,
    /// `Cache-Control` of the response.
    pub cache: &'static str,
    /// `attachment` downloads under this name instead of showing inline.
    pub download_as: Option<&'a str>,
}

const CSP: &str = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'";

pub async fn serve(objects: &Objects, request: &HeaderMap, s: Served<'_>) -> ApiResult<Response> {
    let etag = format!("\"{}\"", s.sha256);
    let mut headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(&mut headers, header::ETAG, &etag);
    set(&mut headers, header::CACHE_CONTROL, s.cache);
    set(&mut headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(&mut headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let key: ObjectKey = s.key.parse()?;
    let object = objects.get(s.bucket, &key).await?;
    set(&mut headers, header::CONTENT_TYPE, s.mime);
    set(
        &mut headers,
        header::CONTENT_LENGTH,
        &object.info.size.to_string(),
    );
    if let Some(name) = s.download_as {
        set(
            &mut headers,
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{}\"", ascii_name(name)),
        );
    }
    Ok((headers, Body::from_stream(object.body)).into_response())
}

/// A file name safe inside a quoted header value.
fn ascii_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        "download".into()
    } else {
        cleaned
    }
}
