//! Request extractors: JSON bodies with problem+json rejections, the caller's identity,
//! and request metadata for the audit log.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use penny_store::{Role, TenantId, UserId};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::client_ip::TrustProxy;
use crate::error::ApiError;
use crate::AppState;

/// A JSON request body plus the SHA-256 of what was sent (passwords redacted), which
/// the audit log records.
pub struct Payload<T> {
    pub value: T,
    pub sha256: Vec<u8>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Payload<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidBody("could not read the request body".into())
            }
        })?;
        parse_json(&bytes)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Payload<T>, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    if let Some(field) = nul_in(&value) {
        return Err(ApiError::validation(field, NUL_MESSAGE));
    }
    let parsed = serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." {
            // Missing or unknown fields are reported at the root; take the name from serde.
            inner.split('`').nth(1).unwrap_or("body").to_string()
        } else {
            path
        };
        ApiError::validation(field, inner)
    })?;
    redact(&mut value);
    let sha256 = Sha256::digest(serde_json::to_vec(&value).unwrap_or_default()).to_vec();
    Ok(Payload {
        value: parsed,
        sha256,
    })
}

pub(crate) const NUL_MESSAGE: &str = "must not contain the NUL character (\\u0000)";

/// The path of the first string (or key) in `v` holding a NUL character, which no
/// PostgreSQL text or jsonb value can store: such input is refused where it enters,
/// for every body at once, instead of failing deep in a query.
pub(crate) fn nul_in(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Some(".".into()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item).map(|p| join(&format!("[{i}]"), &p))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                return Some(".".into());
            }
            nul_in(item).map(|p| join(k, &p))
        }),
        _ => None,
    }
}

fn join(head: &str, rest: &str) -> String {
    if rest == "." {
        head.to_string()
    } else if rest.starts_with('[') {
        format!("{head}{rest}")
    } else {
        format!("{head}.{rest}")
    }
}

/// Replaces secrets so the stored payload digest cannot be used to guess them.
fn redact(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k.contains("password") || k.contains("token") || k == "api_key" {
                    *val = serde_json::Value::String("[redacted]".into());
                } else {
                    redact(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Who is calling: resolved once per request by the auth middleware.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserId,
    pub tenant: TenantId,
    pub role: Role,
    pub super_admin: bool,
    /// The login (refresh family) behind an access token.
    pub session: Option<Uuid>,
    /// The API key, when the caller used one.
    pub api_key: Option<Uuid>,
}

impl Principal {
    pub fn require(&self, min: Role) -> Result<(), ApiError> {
        if self.role.at_least(min) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role does not allow this"))
        }
    }

    pub fn require_super_admin(&self) -> Result<(), ApiError> {
        if self.super_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the platform super-admin may do this",
            ))
        }
    }

    /// The caller as a reader of files and artifacts.
    pub fn reader(&self) -> penny_store::access::Reader {
        penny_store::access::Reader::new(self.user, self.role)
    }

    /// The rate-limit windows the caller spends: their user's, and their API key's too.
    pub fn limit_keys(&self) -> Vec<String> {
        let mut keys = vec![format!("rq:user:{}", self.user)];
        if let Some(k) = self.api_key {
            keys.push(format!("rq:key:{k}"));
        }
        keys
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthenticated(
                "send Authorization: Bearer <token or API key>",
            ))
    }
}

/// Client address and user agent, for limits and the audit log.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn from_parts(
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        trust_proxy: &TrustProxy,
    ) -> Self {
        ClientMeta {
            ip: trust_proxy.client_ip(headers, peer.map(|p| p.ip())),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
        }
    }

    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|i| i.to_string())
    }
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(ClientMeta::from_parts(
            &parts.headers,
            peer,
            &state.settings.trust_proxy,
        ))
    }
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`); use with
/// `#[serde(default, deserialize_with = "crate::extract::double_option")]`.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: u32,
    }

    #[test]
    fn malformed_json_is_invalid_body() {
        assert!(matches!(
            parse_json::<Body>(b"{\"email\": "),
            Err(ApiError::InvalidBody(_))
        ));
    }

    #[test]
    fn wrong_type_names_the_field() {
        match parse_json::<Body>(br#"{"email": 5, "count": 1}"#) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "email"),
            other => panic!("{:?}", other.err()),
        }
        match parse_json::<Body>(br#"{"email": "a"}"#) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "count"),
            other => panic!("{:?}", other.err()),
        }
        match parse_json::<Body>(br#"{"email": "a", "count": 1, "extra": true}"#) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "extra"),
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_nul_character_is_refused_with_its_field() {
        match parse_json::<Body>(br#"{"email": "a\u0000b", "count": 1}"#) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "email"),
            other => panic!("{:?}", other.err()),
        }
        let nested = serde_json::json!({"a": {"b": ["x", "y\u{0}"]}});
        assert_eq!(nul_in(&nested).as_deref(), Some("a.b[1]"));
        // An escaped backslash followed by "u0000" is ordinary text.
        let text: serde_json::Value = serde_json::from_str(r#"{"a": "\\u0000"}"#).unwrap();
        assert_eq!(nul_in(&text), None);
    }

    #[test]
    fn payload_digest_does_not_depend_on_the_password() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Login {
            password: String,
        }
        let a = parse_json::<Login>(br#"{"password": "one-secret"}"#).unwrap();
        let b = parse_json::<Login>(br#"{"password": "two-secret"}"#).unwrap();
        assert_eq!(a.sha256, b.sha256);
    }
}
