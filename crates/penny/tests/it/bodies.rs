//! Bad input gets a clear problem+json answer and changes nothing.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn malformed_wrong_typed_unknown_and_huge_bodies_are_refused_clearly() {
    let app = TestApp::spawn_with(&[("BODY_LIMIT_BYTES", "4096")]).await;
    let root = app.root_token().await;
    let post_raw = |body: &'static str, ct: &'static str| {
        app.http
            .post(app.url("/api/v1/users"))
            .bearer_auth(&root)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = post_raw("{\"email\": ", "application/json").await.unwrap();
    assert_problem(res, 400, "invalid_body").await;
    // Each wrong body is refused with the field it got wrong.
    for (body, field) in [
        (r#"{"email": 5, "role": "viewer"}"#, "email"),
        (r#"{"email": "a@b.co"}"#, "role"),
        (r#"{"email": "a@b.co", "role": "wizard"}"#, "role"),
        (r#"{"email": "a@b.co", "role": "viewer", "rol": 1}"#, "rol"),
        (r#"{"email": "not-an-email", "role": "viewer"}"#, "email"),
    ] {
        let res = post_raw(body, "application/json").await.unwrap();
        let b = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(b["errors"][0]["field"], field, "{body}");
    }
    let res = post_raw(r#"{"email": "a@b.co", "role": "viewer"}"#, "text/plain")
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;

    let huge =
        json!({"email": "big@example.com", "role": "viewer", "display_name": "x".repeat(10_000)});
    assert_problem(
        app.post(&root, "/api/v1/users", huge).await,
        413,
        "payload_too_large",
    )
    .await;

    // Nothing was written by any of the refused requests.
    let users: Value = app.get(&root, "/api/v1/users").await.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_ids_are_problems_without_internals() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    assert_problem(
        app.get(&root, "/api/v1/nothing-here").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.get(&root, "/api/nothing").await, 404, "not_found").await;
    assert_problem(app.get(&root, "/ws/nothing").await, 404, "not_found").await;
    let res = app
        .http
        .put(app.url("/api/v1/me"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_problem(res, 405, "method_not_allowed").await;
    let res = app.get(&root, "/api/v1/users/not-a-uuid").await;
    assert_eq!(res.status(), 400);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let text = res.text().await.unwrap();
    assert!(!text.to_lowercase().contains("sql"), "{text}");
    assert_problem(
        app.get(&root, &format!("/api/v1/users/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn health_ready_request_id_docs_and_cache_headers() {
    let app = TestApp::spawn().await;
    let h: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        h,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    let r: Value = app
        .http
        .get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"status": "ready", "database": "ok", "redis": "not configured"})
    );

    let res = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"].to_str().unwrap().len(), 36);

    let root = app.root_token().await;
    let res = app.get(&root, "/api/v1/me").await;
    assert_eq!(res.headers()["cache-control"], "no-store");

    let spec: Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/users/{id}",
        "/api/v1/tenants",
        "/api/v1/api-keys",
        "/ready",
        "/api/v1/tools/{name}/invoke",
        "/api/v1/jobs/{id}",
        "/api/v1/admin/queues",
        "/api/v1/artifacts/{id}/content",
        "/api/v1/files",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the spec"
        );
    }
    // The docs page loads nothing from elsewhere: its script is served by PENNY.
    let docs = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = docs.text().await.unwrap();
    assert!(page.contains("/api/v1/openapi.json"), "{page}");
    assert!(!page.contains("https://"), "no third-party script: {page}");
    let script = app
        .http
        .get(app.url("/api/docs/scalar.js"))
        .send()
        .await
        .unwrap();
    // The bundle is part of the web build (`make web`, which `make test` runs first).
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert!(script.bytes().await.unwrap().len() > 100_000);
    app.stop().await;
}

/// PostgreSQL cannot store a NUL character in text: every JSON body that holds one is
/// refused where it enters (found by `make security`: it was a 500), and nothing is stored.
#[tokio::test]
async fn a_nul_character_in_a_body_is_refused_with_its_field() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = app
        .post(
            &root,
            "/api/v1/users",
            json!({"email": "nul@example.com", "role": "viewer", "display_name": "a\u{0}b"}),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "display_name", "{problem}");
    let users = app.get(&root, "/api/v1/users").await.text().await.unwrap();
    assert!(!users.contains("nul@example.com"), "{users}");
}
