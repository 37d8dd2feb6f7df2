//! The web app, embedded in the binary from `web/dist` (built by `make run` / `make test`):
//! `index.html` for `/` and every client route (`Cache-Control: no-cache`), hashed files
//! under `/assets/` cached for a year (`immutable`), other files for an hour. `/api/*` and
//! `/ws/*` never fall back to the app: an unknown API path is a problem+json 404.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::problem_for_status;

#[derive(Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const HOUR: &str = "public, max-age=3600";
const NO_CACHE: &str = "no-cache";

/// The app's Content-Security-Policy: scripts, styles, fonts and connections only from
/// PENNY's own origin (no inline or evaluated script: Vega runs its expression
/// interpreter), images also from `data:`/`blob:` (rendered artifacts) and `https:`
/// (a tenant's logo; model text shows images as links, never loads them); nothing may
/// frame the app, plugins and `<base>` are off. Inline styles are allowed: React style
/// attributes and the diagrams Mermaid and Vega draw carry them, and a style cannot run
/// code.
pub(crate) const APP_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; font-src 'self' data:; \
    connect-src 'self'; worker-src 'self' blob:; frame-src 'self' blob:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") || path.starts_with("/ws/") {
        return problem_for_status(StatusCode::NOT_FOUND);
    }
    if method != Method::GET && method != Method::HEAD {
        return problem_for_status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let rel = path.trim_start_matches('/');
    if rel.starts_with("assets/") {
        return match Dist::get(rel) {
            Some(file) => send(rel, file, IMMUTABLE, &headers),
            None => problem_for_status(StatusCode::NOT_FOUND),
        };
    }
    if !rel.is_empty() && rel != "index.html" {
        if let Some(file) = Dist::get(rel) {
            return send(rel, file, HOUR, &headers);
        }
    }
    // Client routes (/c/123, /login, /admin…) all load the app.
    match Dist::get("index.html") {
        Some(file) => send("index.html", file, NO_CACHE, &headers),
        None => not_built(),
    }
}

/// A file of the web build outside the app itself (e.g. the docs page's script), cached
/// for an hour; 404 when this build has none.
pub(crate) fn embedded(name: &str, headers: &HeaderMap) -> Response {
    match Dist::get(name) {
        Some(file) => send(name, file, HOUR, headers),
        None => problem_for_status(StatusCode::NOT_FOUND),
    }
}

fn send(
    name: &str,
    file: rust_embed::EmbeddedFile,
    cache: &'static str,
    req: &HeaderMap,
) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut res = if req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = Response::new(Body::from(file.data.into_owned()));
        let mime = file.metadata.mimetype();
        let mime = if mime.starts_with("text/") || mime.ends_with("javascript") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        if let Ok(v) = HeaderValue::from_str(&mime) {
            res.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        res
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == "index.html" {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(APP_CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    res
}

/// This binary was built without the web app (`web/dist` was missing at build time).
fn not_built() -> Response {
    let body = "<!doctype html><meta charset=utf-8><title>PENNY</title>\
        <body style=\"font-family:system-ui;max-width:40rem;margin:4rem auto\">\
        <h1>PENNY is running</h1><p>This build has no web app: it was compiled before \
        <code>web/dist</code> existed. Build it with <code>make run</code> (or \
        <code>npm --prefix web ci && npm --prefix web run build</code>, then rebuild \
        <code>penny</code>). The API is at <a href=\"/api/docs\">/api/docs</a>.</p>";
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    res
}
