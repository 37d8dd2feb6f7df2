//! A document added by URL: the server fetches it through the one outbound policy
//! (`penny-outbound`: no private, loopback or metadata addresses unless `OUTBOUND_ALLOW`
//! says so, every redirect checked), bounded by the upload limit and [`FETCH_TIMEOUT`],
//! and keeps the body as the caller's upload, as `POST /files` would. Its name comes
//! from the answer's `Content-Disposition` or the URL's path, its type from the answer's
//! `Content-Type` (extraction picks PDF, DOCX, HTML, … by it, after the content's magic).
//!
//! A failure keeps nothing and is one of these stable codes; none of them names the URL
//! (it may carry a token) or shows anything of the upstream's body:
//! `url_refused` (422) the outbound policy refuses the address or a redirect;
//! `url_unreachable` (422) no connection, a timeout, or an error status upstream (422
//! rather than 502: it is the URL given that cannot be used, and a proxy in front of
//! PENNY must not take it for PENNY being down); `url_too_large` (413) past the upload
//! limit. A malformed URL is `validation_failed` on `url`.

use std::time::Duration;

use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use penny_outbound::OutboundError;
use url::Url;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::files::{self, BodyError, Stopped, Stored};
use crate::AppState;

/// Longest URL accepted (the `documents.source_url` column's bound).
pub const MAX_URL_CHARS: usize = 2048;
/// How long a fetch may take, connect to last byte (within the request's own timeout).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes read before the type is decided (as an upload's).
const HEAD: usize = 8192;

/// A URL a document may be fetched from: absolute http(s), at most [`MAX_URL_CHARS`],
/// without a user name or password (the URL is stored and shown with the document).
pub fn parse(raw: &str) -> ApiResult<Url> {
    let bad = |m: &str| Err(ApiError::validation("url", m));
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return bad("at most 2048 characters");
    }
    let Ok(url) = Url::parse(raw) else {
        return bad("is not a valid URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("must be an http:// or https:// URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a user name or password");
    }
    if url.as_str().chars().count() > MAX_URL_CHARS {
        return bad("at most 2048 characters");
    }
    Ok(url)
}

/// A fetched document, stored as an upload but not yet recorded.
pub struct Fetched {
    pub stored: Stored,
    pub filename: String,
    pub mime: String,
}

/// Fetches `url` for `who` and stores its body. Nothing is kept when it fails.
pub async fn fetch(state: &AppState, who: &Principal, url: &Url) -> ApiResult<Fetched> {
    let outbound = &state.tools.outbound;
    // Ends before the request's own timeout would cut it off without saying why.
    let timeout = FETCH_TIMEOUT.min(state.settings.request_timeout.mul_f64(0.8));
    let request = outbound
        .get(url.as_str())
        .map_err(refused_or_unreachable)?
        .timeout(timeout);
    let response = outbound
        .send(request)
        .await
        .map_err(refused_or_unreachable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!(
            "the server answered {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let filename = filename(response.headers(), url);
    let declared = declared_type(response.headers());
    let limit = state.tools.upload_limit_bytes;
    let mut body = Box::pin(
        penny_outbound::limited_stream(response, limit)
            .map_err(refused_or_unreachable)?
            .map(|chunk| {
                chunk.map_err(|e| match e {
                    OutboundError::TooLarge { .. } => BodyError::TooLarge,
                    other => BodyError::Read(other.to_string()),
                })
            }),
    );
    // The first bytes decide the type when the answer names none.
    let mut head = Vec::new();
    while head.len() < HEAD {
        match body.next().await {
            Some(chunk) => head.extend_from_slice(&chunk.map_err(|e| body_error(e, limit))?),
            None => break,
        }
    }
    let mime = declared.unwrap_or_else(|| files::sniff(&head[..head.len().min(HEAD)]));
    let first = futures::stream::once(async move { Ok(Bytes::from(head)) });
    let stored = files::store(state, who, first.chain(body))
        .await
        .map_err(|e| match e {
            Stopped::Body(b) => body_error(b, limit),
            Stopped::Api(e) => e,
        })?;
    Ok(Fetched {
        stored,
        filename: with_extension(filename, &mime),
        mime,
    })
}

fn unreachable(detail: String) -> ApiError {
    ApiError::Unusable {
        code: "url_unreachable",
        detail: format!("the URL could not be fetched: {detail}"),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge {
        code: "url_too_large",
        detail: format!("the document at the URL is larger than the upload limit ({limit} bytes)"),
    }
}

/// Transport messages have no URL (reqwest's is dropped) and are redacted again here;
/// they never hold the upstream's body.
fn refused_or_unreachable(e: OutboundError) -> ApiError {
    match e {
        OutboundError::Refused(reason) => ApiError::Unusable {
            code: "url_refused",
            detail: format!("the URL is refused by this server's outbound policy: {reason}"),
        },
        OutboundError::BadUrl(_) => ApiError::validation("url", "is not a valid URL"),
        OutboundError::TooLarge { limit } => too_large(limit),
        OutboundError::Transport(m) => unreachable(penny_outbound::redact(&m)),
    }
}

fn body_error(e: BodyError, limit: usize) -> ApiError {
    match e {
        BodyError::TooLarge => too_large(limit),
        BodyError::Read(m) => unreachable(penny_outbound::redact(&m)),
    }
}

/// The answer's type without its parameters, unless it names none worth keeping.
fn declared_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let parsed: mime::Mime = raw.parse().ok()?;
    let essence = parsed.essence_str().to_ascii_lowercase();
    (essence != "application/octet-stream" && essence.len() <= 127).then_some(essence)
}

/// The name to keep: `Content-Disposition`'s (`filename*` first), else the URL's last
/// path segment, else its host; printable, without any folder part.
fn filename(headers: &HeaderMap, url: &Url) -> String {
    let from_header = headers
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(disposition_name);
    let from_path = || {
        url.path_segments()
            .and_then(|mut s| s.rfind(|seg| !seg.is_empty()))
            .map(|seg| {
                percent_encoding::percent_decode_str(seg)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    };
    let name = from_header
        .or_else(from_path)
        .map(|n| base_name(&n).to_string())
        .filter(|n| !n.trim().is_empty() && n != "." && n != "..")
        .or_else(|| url.host_str().map(str::to_owned));
    files::display_name(Some(name.as_deref().unwrap_or("page.html")))
}

/// `filename*=UTF-8''…` (RFC 6266, percent-encoded) or `filename="…"` of a
/// `Content-Disposition` value.
fn disposition_name(value: &str) -> Option<String> {
    let mut plain = None;
    for part in value.split(';').skip(1) {
        let Some((key, v)) = part.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let (charset, rest) = v.split_once('\'')?;
                let (_lang, encoded) = rest.split_once('\'')?;
                if charset.eq_ignore_ascii_case("utf-8") {
                    let decoded = percent_encoding::percent_decode_str(encoded);
                    return Some(decoded.decode_utf8_lossy().into_owned());
                }
            }
            "filename" => {
                let unquoted = v
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"))
                    .unwrap_or_else(|| v.to_string());
                plain = Some(unquoted);
            }
            _ => {}
        }
    }
    plain
}

/// The last part of a path, whichever separator it uses.
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// An HTML page's name ends in `.html` (so it reads as a page; a page at `/wiki/Rust`
/// becomes `Rust.html`, a site's root `example.com.html`).
fn with_extension(name: String, mime: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if mime == "text/html" && !(lower.ends_with(".html") || lower.ends_with(".htm")) {
        files::display_name(Some(&format!("{name}.html")))
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        assert!(parse("https://example.com/a.pdf").is_ok());
        assert!(parse("  http://10.0.0.1:8080/x  ").is_ok());
        for bad in [
            "ftp://example.com/a",
            "file:///etc/passwd",
            "example.com/a",
            "http://user:pw@example.com/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(parse(&long).is_err());
    }

    #[test]
    fn names_come_from_the_disposition_then_the_path_then_the_host() {
        let h = headers(&[(
            CONTENT_DISPOSITION,
            "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''Jahres%20bericht.pdf",
        )]);
        assert_eq!(
            filename(&h, &url("https://x.test/dl?id=1")),
            "Jahres bericht.pdf"
        );
        let h = headers(&[(
            CONTENT_DISPOSITION,
            "attachment; filename=\"../../etc/passwd\"",
        )]);
        assert_eq!(filename(&h, &url("https://x.test/")), "passwd");
        let none = HeaderMap::new();
        assert_eq!(
            filename(&none, &url("https://x.test/docs/guide%201.md")),
            "guide 1.md"
        );
        assert_eq!(filename(&none, &url("https://x.test/docs/")), "docs");
        assert_eq!(filename(&none, &url("https://x.test/")), "x.test");
        assert_eq!(filename(&none, &url("https://x.test/a/%0Abad%00")), "bad");
    }

    #[test]
    fn pages_are_named_as_html_and_types_lose_their_parameters() {
        assert_eq!(with_extension("Rust".into(), "text/html"), "Rust.html");
        assert_eq!(with_extension("index.HTM".into(), "text/html"), "index.HTM");
        assert_eq!(with_extension("a.pdf".into(), "application/pdf"), "a.pdf");
        let h = headers(&[(CONTENT_TYPE, "Text/HTML; charset=utf-8")]);
        assert_eq!(declared_type(&h).as_deref(), Some("text/html"));
        let h = headers(&[(CONTENT_TYPE, "application/octet-stream")]);
        assert_eq!(declared_type(&h), None);
        let h = headers(&[(CONTENT_TYPE, "not a type")]);
        assert_eq!(declared_type(&h), None);
    }
}
