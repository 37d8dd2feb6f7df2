//! The tower stack around every route: request id, tracing, CORS, compression, timeout,
//! body limit, `no-store` on the API, and a last guard that turns any bare error
//! response (unknown route, 405, 408, 413 from a layer) into problem+json.

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::Router;
use tower::util::MapResponseLayer;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{problem_for_status, PROBLEM_JSON};
use crate::{auth, limits, AppState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the routes in the tower stack. With `web`, unknown paths outside `/api` and `/ws`
/// load the embedded web app; otherwise they are problem+json 404s.
pub fn wrap(api: Router<AppState>, root: Router<AppState>, state: AppState, web: bool) -> Router {
    let settings = state.settings.clone();
    // Room for the multipart framing around the largest upload.
    let state_upload_limit = state.tools.upload_limit_bytes.saturating_add(64 * 1024);
    let api = api
        .layer(from_fn_with_state(state.clone(), limits::rate_limit))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    let routes = Router::new().nest("/api/v1", api).merge(root);
    let routes = if web {
        routes.fallback(crate::web::serve)
    } else {
        routes.fallback(|| async { problem_for_status(StatusCode::NOT_FOUND) })
    };
    routes.with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request<_>| {
                        let request_id = req
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            path = %redact_path(req.uri().path()),
                            request_id,
                            route = tracing::field::Empty,
                            tenant_id = tracing::field::Empty,
                            user_id = tracing::field::Empty,
                        )
                    })
                    .on_request(())
                    .on_response(|res: &Response<_>, latency: Duration, _: &tracing::Span| {
                        let latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
                        tracing::info!(
                            status = res.status().as_u16(),
                            latency_ms,
                            "request finished"
                        );
                    }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .option_layer(cors(&settings.cors_origins))
            .layer(CompressionLayer::new())
            .layer(MapResponseLayer::new(problem_guard))
            .layer(RequestBodyLimitLayer::new(
                settings.body_limit_bytes.max(state_upload_limit),
            ))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                settings.request_timeout,
            ))
            .layer(DefaultBodyLimit::disable()),
    )
}

/// CORS only when `FRONTEND_URL` names other origins; otherwise same-origin, no headers.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID,
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static(crate::refresh_cookie::MODE_HEADER),
        ])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            HeaderName::from_static("x-has-more"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ]);
    Some(layer)
}

fn problem_guard<B>(res: Response<B>) -> axum::response::Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res.map(axum::body::Body::new);
    }
    let (mut parts, _) = res.into_parts();
    let mut fresh = problem_for_status(status).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (k, v) in parts.headers.iter() {
        fresh.headers_mut().insert(k.clone(), v.clone());
    }
    fresh
}

/// Secret prefixes of PENNY's own tokens and of upstream keys.
const SECRET_PREFIXES: [&str; 6] = ["inv_", "rt_", "pk_", "setup_", "sk-", "sk_"];

/// A request path for the log, with every segment that looks like a secret replaced: one
/// of PENNY's token prefixes, or a long opaque string that is not a UUID. Ids stay, so a
/// log still tells which resource was asked for.
pub(crate) fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let secret = SECRET_PREFIXES.iter().any(|p| seg.starts_with(p))
                || (seg.len() >= 32 && uuid::Uuid::parse_str(seg).is_err());
            if secret {
                "[redacted]"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_path;

    #[test]
    fn token_like_segments_are_redacted_and_ids_kept() {
        let id = "0b9a7c52-5b8e-4a5e-9c8e-2f1d3c4b5a69";
        assert_eq!(
            redact_path(&format!("/api/v1/users/{id}/reset-link")),
            format!("/api/v1/users/{id}/reset-link")
        );
        assert_eq!(redact_path("/invite/inv_abc"), "/invite/[redacted]");
        assert_eq!(
            redact_path("/api/v1/x/Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4eHh4"),
            "/api/v1/x/[redacted]"
        );
        assert_eq!(
            redact_path("/assets/index-9nslBgD0.js"),
            "/assets/index-9nslBgD0.js"
        );
    }
}
