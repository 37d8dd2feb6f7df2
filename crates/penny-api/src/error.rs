//! The HTTP boundary's one error type, rendered as RFC 9457 `application/problem+json`
//! with a stable `code`. Internal details go to the log, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use penny_store::StoreError;
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidBody(String),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this tenant is suspended")]
    TenantSuspended,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("you have {max} event streams open, the most allowed; close one first")]
    TooManyStreams { max: usize },
    /// Too many at once, with its own stable code (e.g. `too_many_runs`); 429.
    #[error("{detail}")]
    Limited { code: &'static str, detail: String },
    #[error("a dependency is unavailable")]
    Unavailable,
    /// Refused for a reason with its own stable code (e.g. `tool_disabled`).
    #[error("{detail}")]
    Denied { code: &'static str, detail: String },
    /// Not found, with its own stable code (e.g. `invite_invalid`).
    #[error("{detail}")]
    Missing { code: &'static str, detail: String },
    /// A part the request needs cannot work here; the detail says what to fix.
    #[error("{detail}")]
    NotAvailable { code: &'static str, detail: String },
    /// What the request names cannot be used, with its own stable code (e.g.
    /// `url_refused`); 422.
    #[error("{detail}")]
    Unusable { code: &'static str, detail: String },
    /// Too large, with its own stable code (e.g. `url_too_large`); 413.
    #[error("{detail}")]
    TooLarge { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldError<'a>>>,
}

#[derive(Serialize)]
struct FieldError<'a> {
    field: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `(status, stable code, title)`.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            InvalidBody(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "Malformed request body",
            ),
            Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid field",
            ),
            Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            TenantSuspended => (
                StatusCode::FORBIDDEN,
                "tenant_suspended",
                "Tenant suspended",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            TooManyStreams { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "Too many streams",
            ),
            Limited { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code, "Too many at once"),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Denied { code, .. } => (StatusCode::FORBIDDEN, code, "Not allowed"),
            Missing { code, .. } => (StatusCode::NOT_FOUND, code, "Not found"),
            NotAvailable { code, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, code, "Service unavailable")
            }
            Unusable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code, "Cannot be used"),
            TooLarge { code, .. } => (StatusCode::PAYLOAD_TOO_LARGE, code, "Payload too large"),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

/// Renders a problem document for a status that has no richer error (404 route, 405, 408…).
pub fn problem_for_status(status: StatusCode) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => "timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let title = status.canonical_reason().unwrap_or("Error");
    render(status, code, title, title.to_string(), None)
}

fn render(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: String,
    errors: Option<Vec<FieldError>>,
) -> Response {
    let body = Problem {
        kind: format!("https://penny.dev/problems/{code}"),
        title,
        status: status.as_u16(),
        detail,
        code,
        errors,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = (status, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let errors = match &self {
            ApiError::Validation { field, message } => Some(vec![FieldError { field, message }]),
            _ => None,
        };
        let mut res = render(status, code, title, self.to_string(), errors);
        if let ApiError::RateLimited { retry_after } = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(field) => ApiError::Conflict(format!("{field} already exists")),
            StoreError::Invalid { field, message } => ApiError::validation(field, message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<penny_tools::ToolError> for ApiError {
    fn from(e: penny_tools::ToolError) -> Self {
        use penny_tools::ToolError as T;
        match e {
            T::NotFound => ApiError::NotFound,
            T::Disabled(_) => ApiError::Denied {
                code: "tool_disabled",
                detail: e.to_string(),
            },
            T::Forbidden(_) => ApiError::Denied {
                code: "tool_forbidden",
                detail: e.to_string(),
            },
            T::Invalid { field, message } => ApiError::validation(field, message),
            T::Unavailable(detail) => ApiError::NotAvailable {
                code: "tool_unavailable",
                detail,
            },
            T::Store(s) => s.into(),
            T::Queue(q) => q.into(),
            T::Objects(o) => o.into(),
        }
    }
}

impl From<penny_knowledge::SearchError> for ApiError {
    fn from(e: penny_knowledge::SearchError) -> Self {
        use penny_knowledge::SearchError as S;
        match e {
            S::Invalid { field, message } => ApiError::validation(field, message),
            S::NotFound => ApiError::NotFound,
            S::Unavailable(detail) => ApiError::NotAvailable {
                code: "knowledge_unavailable",
                detail,
            },
            // The failure's kind only (a provider's status, a timeout), never its words.
            S::Embed(detail) => ApiError::NotAvailable {
                code: "embedding_failed",
                detail,
            },
            S::Store(s) => s.into(),
        }
    }
}

impl From<penny_queue::QueueError> for ApiError {
    fn from(e: penny_queue::QueueError) -> Self {
        match e {
            penny_queue::QueueError::Invalid(m) => ApiError::validation("job", m),
            penny_queue::QueueError::NotFound => ApiError::NotFound,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<penny_objects::ObjectsError> for ApiError {
    fn from(e: penny_objects::ObjectsError) -> Self {
        if e.is_not_found() {
            return ApiError::NotFound;
        }
        tracing::error!(error = %e, "object storage failed");
        ApiError::NotAvailable {
            code: "storage_unavailable",
            detail: "object storage is unavailable".into(),
        }
    }
}

impl From<penny_limits::LimitError> for ApiError {
    fn from(e: penny_limits::LimitError) -> Self {
        tracing::error!(error = %e, "rate limiter unavailable");
        ApiError::Unavailable
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
