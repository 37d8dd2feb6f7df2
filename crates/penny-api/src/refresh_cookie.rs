//! The browser's refresh token lives in a cookie script cannot read.
//!
//! A client that sends `X-Penny-Session: cookie` on login, set-up, accepting a link or
//! refresh gets its refresh token as `penny_refresh` (`HttpOnly; Secure; SameSite=Strict`,
//! scoped to `/api/v1/auth/refresh`) instead of in the JSON body, and presents it by
//! sending the same header to `POST /api/v1/auth/refresh` with an empty object. Logout
//! with the header clears it. Other clients (the CLI, SDKs) keep the token in the body.
//!
//! CSRF: the cookie is only read when the request carries the custom header, which a
//! cross-site page cannot send without a CORS preflight that PENNY refuses unless the
//! origin is configured; `SameSite=Strict` keeps the cookie off cross-site requests too.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiError;
use crate::sessions::TokenResponse;
use crate::AppState;

pub(crate) const COOKIE_NAME: &str = "penny_refresh";
pub(crate) const COOKIE_PATH: &str = "/api/v1/auth/refresh";
/// The request header that asks for the cookie (value `cookie`).
pub(crate) const MODE_HEADER: &str = "x-penny-session";
/// Longest cookie value read (a refresh token is far shorter).
const MAX_TOKEN: usize = 256;

/// How the caller keeps its refresh token.
pub(crate) struct SessionMode {
    cookie: bool,
    /// The cookie's token, read only in cookie mode.
    presented: Option<String>,
}

impl FromRequestParts<AppState> for SessionMode {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let cookie = parts
            .headers
            .get(MODE_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"));
        let presented = if cookie {
            parts
                .headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| *name == COOKIE_NAME)
                .map(|(_, value)| value.trim().to_string())
                .filter(|v| !v.is_empty() && v.len() <= MAX_TOKEN)
        } else {
            None
        };
        Ok(SessionMode { cookie, presented })
    }
}

impl SessionMode {
    /// The refresh token the caller presents: the body's, else (in cookie mode) the cookie's.
    pub(crate) fn token(&self, body: Option<String>) -> Option<String> {
        body.filter(|t| !t.is_empty())
            .or_else(|| self.presented.clone())
    }

    /// The tokens as the caller asked for them: in cookie mode the refresh token moves
    /// from the body into the cookie.
    pub(crate) fn respond(&self, state: &AppState, mut tokens: TokenResponse) -> Response {
        let refresh = if self.cookie {
            tokens.refresh_token.take()
        } else {
            None
        };
        let mut res = Json(tokens).into_response();
        if let Some(token) = refresh {
            let max_age = state.settings.refresh_ttl_days.saturating_mul(86_400);
            if let Some(v) = cookie(state, &token, max_age) {
                res.headers_mut().append(SET_COOKIE, v);
            }
        }
        res
    }

    /// Adds the removal of the cookie to `res` (logout), in cookie mode.
    pub(crate) fn clear(&self, state: &AppState, mut res: Response) -> Response {
        if self.cookie {
            if let Some(v) = cookie(state, "", 0) {
                res.headers_mut().append(SET_COOKIE, v);
            }
        }
        res
    }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}
