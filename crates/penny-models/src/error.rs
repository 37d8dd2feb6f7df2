//! How a provider call fails, and how HTTP statuses and error bodies map onto that.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// An upstream's own message is kept only this far, redacted; it is shown to admins (the
/// model test) and logged, never to users.
const MAX_MESSAGE_CHARS: usize = 200;

/// Of an error body, only this much is read.
pub(crate) const MAX_ERROR_BODY: usize = 16 * 1024;

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
    /// The model's address is refused by the outbound policy.
    #[error("the model's address is refused: {0}")]
    Refused(String),
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
            | ProviderError::Protocol(_)
            | ProviderError::Refused(_) => false,
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
            ProviderError::Refused(_) => "outbound_refused",
        }
    }

    /// What a user may be told: the kind of failure, never the upstream's own words
    /// (which could be anything the upstream chose to send, or an internal service's
    /// answer).
    pub fn public_message(&self) -> String {
        match self {
            ProviderError::Auth { status, .. } => {
                format!("the provider refused the credentials (HTTP {status})")
            }
            ProviderError::RateLimited { .. } => "the provider is rate limiting".into(),
            ProviderError::Upstream { status, .. } => {
                format!("the provider failed (HTTP {status})")
            }
            ProviderError::Timeout => "the provider did not answer in time".into(),
            ProviderError::Connect(_) => "cannot reach the provider".into(),
            ProviderError::Disconnected(_) => "the provider's stream ended early".into(),
            ProviderError::Protocol(_) => "the provider sent malformed data".into(),
            ProviderError::Refused(reason) => format!("the model's address is refused: {reason}"),
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

    pub(crate) fn from_outbound(err: penny_outbound::OutboundError) -> Self {
        use penny_outbound::OutboundError as E;
        match err {
            E::Refused(reason) => ProviderError::Refused(reason),
            E::BadUrl(why) => ProviderError::Refused(format!("not a usable URL: {why}")),
            E::TooLarge { limit } => {
                ProviderError::Protocol(format!("a response larger than {limit} bytes"))
            }
            E::Transport(text) if text.contains("timed out") => ProviderError::Timeout,
            E::Transport(text) => ProviderError::Connect(text),
        }
    }
}

/// reqwest's top-level message ("error sending request") hides the useful part; the URL
/// (which may carry credentials) is left out and the rest redacted.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    penny_outbound::redact(&text)
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
    truncate(penny_outbound::redact(&text), MAX_MESSAGE_CHARS)
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
            201
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"bad key sk-abcdefghijklmnopqrstuv"}}"#),
            "bad key [redacted]"
        );
    }
}
