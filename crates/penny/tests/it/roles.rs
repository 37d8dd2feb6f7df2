//! What each role may and may not do.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn each_role_gets_exactly_its_rights() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;
    let (creator_id, creator) = app.user_with_role(&root, "default", "creator").await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;

    // User management: admin and manager only.
    for (token, status) in [
        (&root, 200),
        (&manager, 200),
        (&creator, 403),
        (&viewer, 403),
    ] {
        let res = app.get(token, "/api/v1/users").await;
        assert_eq!(res.status().as_u16(), status);
        if status == 403 {
            assert_problem(res, 403, "forbidden").await;
        }
        let res = app.get(token, &format!("/api/v1/users/{creator_id}")).await;
        assert_eq!(res.status().as_u16(), status);
    }
    let res = app
        .post(
            &viewer,
            "/api/v1/users",
            json!({"email": "x@example.com", "role": "viewer"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let path = format!("/api/v1/users/{creator_id}");
    assert_problem(
        app.send(Method::PATCH, &creator, &path, json!({"role": "admin"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, &viewer, &path, json!({})).await,
        403,
        "forbidden",
    )
    .await;

    // Tenants: the platform super-admin only, not even a tenant admin.
    let beta_admin = app.tenant_with_admin(&root, "beta").await;
    for token in [&manager, &creator, &viewer, &beta_admin] {
        assert_problem(app.get(token, "/api/v1/tenants").await, 403, "forbidden").await;
        let res = app
            .post(token, "/api/v1/tenants", json!({"name": "Gamma"}))
            .await;
        assert_problem(res, 403, "forbidden").await;
    }
    let tenants: Value = app
        .get(&root, "/api/v1/tenants")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 2);

    // Everyone may see themselves and manage their own API keys.
    for token in [&root, &manager, &creator, &viewer] {
        assert_eq!(app.get(token, "/api/v1/me").await.status(), 200);
        assert_eq!(
            app.post(token, "/api/v1/api-keys", json!({"name": "mine"}))
                .await
                .status(),
            201
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn manager_cannot_create_or_touch_admins() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;
    let (admin2_id, _) = app.user_with_role(&root, "default", "admin").await;
    let res = app
        .post(
            &manager,
            "/api/v1/users",
            json!({"email": "a2@example.com", "role": "admin"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let path = format!("/api/v1/users/{admin2_id}");
    let res = app
        .send(Method::PATCH, &manager, &path, json!({"role": "viewer"}))
        .await;
    assert_problem(res, 403, "forbidden").await;
    assert_problem(
        app.send(Method::DELETE, &manager, &path, json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let (viewer_id, _) = app.user_with_role(&root, "default", "viewer").await;
    let res = app
        .send(
            Method::PATCH,
            &manager,
            &format!("/api/v1/users/{viewer_id}"),
            json!({"role": "admin"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .send(
            Method::PATCH,
            &manager,
            &format!("/api/v1/users/{viewer_id}"),
            json!({"role": "creator"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_deleted_or_delete_themselves() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let me: Value = app.get(&root, "/api/v1/me").await.json().await.unwrap();
    let path = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    assert_problem(
        app.send(Method::PATCH, &root, &path, json!({"role": "viewer"}))
            .await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, &root, &path, json!({})).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(app.get(&root, "/api/v1/me").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn users_can_be_created_changed_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = app
        .post(
            &root,
            "/api/v1/users",
            json!({"email": "New@Example.com", "role": "creator", "password": "pw-long-enough"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["email"], "new@example.com");
    assert_eq!(u["role"], "creator");
    let dup = app
        .post(
            &root,
            "/api/v1/users",
            json!({"email": "new@example.com", "role": "viewer"}),
        )
        .await;
    assert_problem(dup, 409, "conflict").await;
    let path = format!("/api/v1/users/{}", u["id"].as_str().unwrap());
    let changed: Value = app
        .send(
            Method::PATCH,
            &root,
            &path,
            json!({"role": "viewer", "display_name": "New Person"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (changed["role"].as_str(), changed["display_name"].as_str()),
        (Some("viewer"), Some("New Person"))
    );
    let token = app
        .token("new@example.com", "pw-long-enough", "default")
        .await;
    let me: Value = app.get(&token, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "viewer");
    let list: Value = app.get(&root, "/api/v1/users").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        app.send(Method::DELETE, &root, &path, json!({}))
            .await
            .status(),
        204
    );
    assert_problem(app.get(&root, &path).await, 404, "not_found").await;
    assert_problem(
        app.login("new@example.com", "pw-long-enough", "default")
            .await,
        401,
        "unauthenticated",
    )
    .await;
    let short = app
        .post(
            &root,
            "/api/v1/users",
            json!({"email": "s@example.com", "role": "viewer", "password": "short"}),
        )
        .await;
    let body = assert_problem(short, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    app.stop().await;
}
