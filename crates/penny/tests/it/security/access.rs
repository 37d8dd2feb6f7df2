//! Access ends when access ends: after a logout, a deactivation, a demotion or a password
//! reset, the access tokens already handed out stop working (or work under the new role)
//! at once, not when they expire; a reset also ends the user's API keys.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get(token, "/api/v1/me").await
}

async fn patch_user(app: &TestApp, admin: &str, id: &str, body: Value) {
    let res = app
        .send(Method::PATCH, admin, &format!("/api/v1/users/{id}"), body)
        .await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn a_logged_out_access_token_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, token) = app.user_with_role(&root, "default", "creator").await;
    assert_eq!(me(&app, &token).await.status(), 200);

    let res = app
        .http
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let body = assert_problem(me(&app, &token).await, 401, "unauthenticated").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("ended"),
        "{body}"
    );
    // Another login of the same user is not touched by this one's logout.
    assert_eq!(me(&app, &root).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_deactivated_user_is_refused_with_the_token_they_hold() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (id, token) = app.user_with_role(&root, "default", "creator").await;
    assert_eq!(me(&app, &token).await.status(), 200);

    patch_user(&app, &root, &id, json!({"status": "deactivated"})).await;
    assert_problem(me(&app, &token).await, 401, "unauthenticated").await;
    let res = app
        .post(&token, "/api/v1/conversations", json!({"title": "after"}))
        .await;
    assert_problem(res, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn a_demoted_user_acts_under_the_new_role_at_once() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (id, token) = app.user_with_role(&root, "default", "admin").await;
    assert_eq!(app.get(&token, "/api/v1/users").await.status(), 200);

    patch_user(&app, &root, &id, json!({"role": "viewer"})).await;
    let me: Value = me(&app, &token).await.json().await.unwrap();
    assert_eq!(me["role"], "viewer", "{me}");
    assert_problem(app.get(&token, "/api/v1/users").await, 403, "forbidden").await;
    app.stop().await;
}

#[tokio::test]
async fn a_password_reset_ends_tokens_and_api_keys() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (id, token) = app.user_with_role(&root, "default", "creator").await;
    let key: Value = app
        .post(
            &token,
            "/api/v1/api-keys",
            json!({"name": "made before the reset"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = key["secret"].as_str().unwrap().to_string();
    assert_eq!(me(&app, &key).await.status(), 200);

    patch_user(
        &app,
        &root,
        &id,
        json!({"password": "a-brand-new-password"}),
    )
    .await;
    assert_problem(me(&app, &key).await, 401, "unauthenticated").await;
    assert_problem(me(&app, &token).await, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn a_login_has_an_absolute_lifetime_refresh_cannot_extend() {
    let db = TestDb::create().await;
    let app = TestApp::spawn_on(db, &[("LOGIN_MAX_AGE_DAYS", "1")]).await;
    let t: Value = app
        .login(ADMIN_EMAIL, ADMIN_PASSWORD, "default")
        .await
        .json()
        .await
        .unwrap();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();

    // The login began two days ago: refresh must refuse, however recently it rotated.
    let mut conn = app.db.owner().await;
    sqlx::query(
        "UPDATE refresh_sessions SET login_expires_at = now() - interval '1 day', \
         expires_at = now() + interval '1 day'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
    // And the access token of that login ends with it.
    let access = t["access_token"].as_str().unwrap();
    assert_problem(me(&app, access).await, 401, "unauthenticated").await;
    app.stop().await;
}
