//! Login, token expiry, refresh rotation and reuse detection, logout, forged tokens and
//! API keys.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn login_with_right_password_gives_tokens_that_open_me() {
    let app = TestApp::spawn().await;
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let me: Value = app
        .get(body["access_token"].as_str().unwrap(), "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["is_super_admin"], true);
    assert_eq!(me["tenant"]["slug"], "default");
    app.stop().await;
}

#[tokio::test]
async fn login_with_wrong_password_unknown_user_or_tenant_is_refused_alike() {
    let app = TestApp::spawn().await;
    for (email, pw, tenant) in [
        (ADMIN_EMAIL, "wrong-password", "default"),
        ("nobody@example.com", ADMIN_PASSWORD, "default"),
        (ADMIN_EMAIL, ADMIN_PASSWORD, "no-such-tenant"),
        ("not-an-email", ADMIN_PASSWORD, "default"),
    ] {
        let body = assert_problem(app.login(email, pw, tenant).await, 401, "unauthenticated").await;
        assert_eq!(body["detail"], "email, password or tenant is wrong");
    }
    assert_problem(app.get("", "/api/v1/me").await, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn expired_access_token_is_refused() {
    let app = TestApp::spawn_with(&[("JWT_ACCESS_TTL_SECS", "1")]).await;
    let token = app.root_token().await;
    assert_eq!(app.get(&token, "/api/v1/me").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let body = assert_problem(app.get(&token, "/api/v1/me").await, 401, "unauthenticated").await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
    app.stop().await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refresh_rotates_and_reuse_of_an_old_token_ends_the_whole_login() {
    let app = TestApp::spawn().await;
    let first: Value = app
        .login(ADMIN_EMAIL, ADMIN_PASSWORD, "default")
        .await
        .json()
        .await
        .unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();

    let second: Value = refresh(&app, r1).await.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        app.get(second["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status(),
        200
    );

    // A stolen copy of r1 is presented: the family is revoked, r2 stops working too.
    let body = assert_problem(refresh(&app, r1).await, 401, "unauthenticated").await;
    assert!(body["detail"].as_str().unwrap().contains("already used"));
    assert_problem(refresh(&app, r2).await, 401, "unauthenticated").await;

    // Another login is not affected.
    let other: Value = app
        .login(ADMIN_EMAIL, ADMIN_PASSWORD, "default")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refresh(&app, other["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_problem(refresh(&app, "rt_made_up").await, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_refresh_token() {
    let app = TestApp::spawn().await;
    let t: Value = app
        .login(ADMIN_EMAIL, ADMIN_PASSWORD, "default")
        .await
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        refresh(&app, t["refresh_token"].as_str().unwrap()).await,
        401,
        "unauthenticated",
    )
    .await;
    app.stop().await;
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let good = app.root_token().await;
    let payload = good.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    let hs512 = format!(
        "{}.{payload}.{}",
        b64(br#"{"alg":"HS512","typ":"JWT"}"#),
        b64(&[0u8; 64])
    );
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
                .unwrap(),
        )
        .unwrap();
        claims["role"] = json!("admin");
        claims["sa"] = json!(true);
        claims["exp"] = json!(9_999_999_999i64);
        parts[1] = b64(claims.to_string().as_bytes());
        parts.join(".")
    };
    for bad in [none, hs512, tampered, "garbage".to_string()] {
        assert_problem(app.get(&bad, "/api/v1/me").await, 401, "unauthenticated").await;
    }
    let res = app
        .http
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn api_key_authenticates_until_revoked_and_is_shown_once() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let created: Value = app
        .post(&root, "/api/v1/api-keys", json!({"name": "ci"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["secret"].as_str().unwrap().to_string();
    assert!(key.starts_with("pk_"));
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    let me: Value = app.get(&key, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["auth"], "api_key");

    let listed = app
        .get(&root, "/api/v1/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(created["prefix"].as_str().unwrap()));
    assert!(!listed.contains(&key), "the secret must never be listed");

    let id = created["id"].as_str().unwrap();
    let res = app
        .send(
            Method::DELETE,
            &root,
            &format!("/api/v1/api-keys/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(&key, "/api/v1/me").await, 401, "unauthenticated").await;
    assert_problem(
        app.get("pk_notarealkey", "/api/v1/me").await,
        401,
        "unauthenticated",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn deactivated_user_cannot_log_in_and_loses_sessions() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (id, _) = app.user_with_role(&root, "default", "creator").await;
    let user: Value = app
        .get(&root, &format!("/api/v1/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let email = user["email"].as_str().unwrap();
    let t: Value = app
        .login(email, "a-good-password", "default")
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .send(
            Method::PATCH,
            &root,
            &format!("/api/v1/users/{id}"),
            json!({"status": "deactivated"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(
        app.login(email, "a-good-password", "default").await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        refresh(&app, t["refresh_token"].as_str().unwrap()).await,
        401,
        "unauthenticated",
    )
    .await;
    app.stop().await;
}
