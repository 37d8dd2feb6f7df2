//! How a provider call fails, and how HTTP statuses and error bodies map onto that.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Error bodies are read only this far: enough for any provider's message.
const MAX_MESSAGE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider refused the credentials (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    #[error("the provider is rate limiting (retry after {retry_after:?}): {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("the provider failed (HTTP {status}): {message}")]
    Upstream { status: u16, message: String },
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("cannot reach the provider: {0}")]
    Connect(String),
    #[error("the provider's stream ended early: {0}")]
    Disconnected(String),
    #[error("the provider sent malformed data: {0}")]
    Protocol(String),
}

impl ProviderError {
    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Timeout
            | ProviderError::Connect(_) => true,
            ProviderError::Upstream { status, .. } => *status >= 500,
            ProviderError::Auth { .. }
            | ProviderError::Disconnected(_)
            | ProviderError::Protocol(_) => false,
        }
    }

    /// The stable code the engine reports to clients.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Auth { .. } => "provider_auth",
            ProviderError::RateLimited { .. } => "provider_rate_limited",
            ProviderError::Upstream { .. } => "provider_error",
            ProviderError::Timeout => "provider_timeout",
            ProviderError::Connect(_) => "provider_unreachable",
            ProviderError::Disconnected(_) => "provider_disconnected",
            ProviderError::Protocol(_) => "provider_protocol",
        }
    }

    /// The error for a non-2xx response, from its status, headers and body.
    pub(crate) fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let message = error_message(body);
        match status {
            401 | 403 => ProviderError::Auth { status, message },
            429 => ProviderError::RateLimited {
                retry_after: retry_after(headers),
                message,
            },
            _ => ProviderError::Upstream { status, message },
        }
    }

    pub(crate) fn from_send(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            ProviderError::Timeout
        } else {
            ProviderError::Connect(error_chain(err))
        }
    }
}

/// reqwest's top-level message ("error sending request") hides the useful part.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `error.message` (OpenAI and Anthropic), a bare `error` string (Ollama), or the raw text.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| error.as_str())
            .or_else(|| v.get("message").and_then(|m| m.as_str()))
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let text = if text.is_empty() {
        "no error message".to_owned()
    } else {
        text
    };
    truncate(text, MAX_MESSAGE_CHARS)
}

pub(crate) fn truncate(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// OpenAI also sends `retry-after-ms`, which is more precise; HTTP dates are not used by
/// model providers and are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return secs(ms / 1000.0);
    }
    header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(secs)
}

fn secs(value: f64) -> Option<Duration> {
    (0.0..86_400.0)
        .contains(&value)
        .then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_429_reads_retry_after_and_message() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        let err = ProviderError::from_status(
            429,
            &headers,
            br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
        );
        assert_eq!(
            err,
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
                message: "slow down".into()
            }
        );
        assert!(err.is_retryable());
        assert_eq!(err.code(), "provider_rate_limited");
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn auth_statuses_are_not_retryable() {
        for status in [401, 403] {
            let err = ProviderError::from_status(status, &HeaderMap::new(), b"{}");
            assert_eq!(err.code(), "provider_auth");
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn only_server_errors_are_retryable_upstream_errors() {
        let e503 = ProviderError::from_status(503, &HeaderMap::new(), b"busy");
        let e400 = ProviderError::from_status(400, &HeaderMap::new(), b"bad");
        assert!(e503.is_retryable());
        assert!(!e400.is_retryable());
        assert_eq!(
            e400,
            ProviderError::Upstream {
                status: 400,
                message: "bad".into()
            }
        );
    }

    #[test]
    fn error_message_understands_each_providers_body() {
        assert_eq!(
            error_message(br#"{"type":"error","error":{"type":"x","message":"anthropic says"}}"#),
            "anthropic says"
        );
        assert_eq!(error_message(br#"{"error":"ollama says"}"#), "ollama says");
        assert_eq!(error_message(b""), "no error message");
        assert_eq!(
            error_message("é".repeat(600).as_bytes()).chars().count(),
            501
        );
    }
}
