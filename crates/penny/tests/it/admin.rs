//! Access and governance: invitations and reset links, policies (model and tool grants,
//! the output-token cap, retention), themes, the audit log's filters and CSV export, and
//! the hourly record of API-key use.

mod access;
mod audit;
mod governance;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

pub(crate) async fn body(res: reqwest::Response, status: u16) -> Value {
    let code = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

pub(crate) async fn me(app: &TestApp, token: &str) -> Value {
    body(app.get(token, "/api/v1/me").await, 200).await
}

/// An unauthenticated call.
pub(crate) async fn anon(
    app: &TestApp,
    method: Method,
    path: &str,
    b: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path));
    if let Some(b) = b {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

pub(crate) async fn invite(
    app: &TestApp,
    token: &str,
    email: &str,
    role: &str,
) -> reqwest::Response {
    app.post(
        token,
        "/api/v1/users/invite",
        json!({"email": email, "role": role}),
    )
    .await
}

pub(crate) async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    anon(
        app,
        Method::POST,
        "/api/v1/invitations/accept",
        Some(json!({"token": token, "password": password})),
    )
    .await
}

/// What a link is for (the token in the body, never in a path).
pub(crate) async fn inspect(app: &TestApp, token: &str) -> reqwest::Response {
    anon(
        app,
        Method::POST,
        "/api/v1/invitations/inspect",
        Some(json!({"token": token})),
    )
    .await
}

pub(crate) async fn audit(app: &TestApp, token: &str, query: &str) -> Value {
    body(
        app.get(token, &format!("/api/v1/admin/audit?{query}"))
            .await,
        200,
    )
    .await
}

pub(crate) fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_admin_endpoints_are_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let spec = body(res, 200).await;
    for (path, method) in [
        ("/api/v1/users/invite", "post"),
        ("/api/v1/users/{id}/reset-link", "post"),
        ("/api/v1/invitations/inspect", "post"),
        ("/api/v1/invitations/accept", "post"),
        ("/api/v1/policies", "get"),
        ("/api/v1/policies", "put"),
        ("/api/v1/themes", "get"),
        ("/api/v1/themes", "put"),
        ("/api/v1/admin/audit", "get"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path}");
    }
    app.stop().await;
}
