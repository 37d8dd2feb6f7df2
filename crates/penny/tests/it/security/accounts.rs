//! Who may act on whose account: the super-admin's account is the super-admin's alone, no
//! one acts above their own role, and a tenant always keeps an admin.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn user_id(app: &TestApp, token: &str, email: &str) -> String {
    let res = app.get(token, "/api/v1/users").await;
    assert_eq!(res.status(), 200);
    let users: Vec<Value> = res.json().await.unwrap();
    users
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} not listed"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.send(Method::PATCH, token, &format!("/api/v1/users/{id}"), body)
        .await
}

#[tokio::test]
async fn a_tenant_admin_cannot_take_over_the_super_admin() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let root_id = user_id(&app, &root, ADMIN_EMAIL).await;
    let (_, other_admin) = app.user_with_role(&root, "default", "admin").await;

    for body in [
        json!({"password": "attacker-password-1"}),
        json!({"role": "viewer"}),
        json!({"status": "deactivated"}),
        json!({"display_name": "owned"}),
    ] {
        let res = patch(&app, &other_admin, &root_id, body.clone()).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = app
        .post(
            &other_admin,
            &format!("/api/v1/users/{root_id}/reset-link"),
            json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .send(
            Method::DELETE,
            &other_admin,
            &format!("/api/v1/users/{root_id}"),
            json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;

    // Nothing changed: the super-admin logs in with the old password, still an admin.
    assert_eq!(
        app.login(ADMIN_EMAIL, "attacker-password-1", "default")
            .await
            .status(),
        401
    );
    let root = app.root_token().await;
    let me: Value = app.get(&root, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "admin", "{me}");
    // The super-admin still manages their own account.
    let res = patch(&app, &root, &root_id, json!({"display_name": "Root"})).await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_manager_cannot_touch_the_super_admin_once_below_admin() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let root_id = user_id(&app, &root, ADMIN_EMAIL).await;
    // A second admin keeps the tenant administered; the super-admin steps down to manager.
    app.user_with_role(&root, "default", "admin").await;
    let res = patch(&app, &root, &root_id, json!({"role": "manager"})).await;
    assert_eq!(res.status(), 200);
    // A fresh token: the super-admin is a manager now.
    let root = app.root_token().await;
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;
    let res = patch(
        &app,
        &manager,
        &root_id,
        json!({"password": "attacker-password-1"}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post(
            &manager,
            &format!("/api/v1/users/{root_id}/reset-link"),
            json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    app.stop().await;
}

#[tokio::test]
async fn no_one_acts_above_their_own_role() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (admin_id, _) = app.user_with_role(&root, "default", "admin").await;
    let (creator_id, _) = app.user_with_role(&root, "default", "creator").await;
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;

    // A manager cannot act on an admin, nor grant admin.
    let res = patch(
        &app,
        &manager,
        &admin_id,
        json!({"password": "a-new-password-1"}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post(
            &manager,
            &format!("/api/v1/users/{admin_id}/reset-link"),
            json!({}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = patch(&app, &manager, &creator_id, json!({"role": "admin"})).await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .post(
            &manager,
            "/api/v1/users",
            json!({"email": "x@example.com", "role": "admin", "password": "a-good-password"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    // At or below their own role, a manager does manage.
    let res = patch(&app, &manager, &creator_id, json!({"role": "manager"})).await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn two_concurrent_demotions_cannot_remove_the_last_admins() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    for round in 0..4 {
        let slug = format!("pair-{round}");
        let first = app.tenant_with_admin(&root, &slug).await;
        let first_id = user_id(&app, &first, &format!("admin@{slug}.example")).await;
        let (second_id, second) = app.user_with_role(&first, &slug, "admin").await;
        // Each demotes the other at the same moment.
        let (a, b) = tokio::join!(
            patch(&app, &first, &second_id, json!({"role": "creator"})),
            patch(&app, &second, &first_id, json!({"role": "creator"})),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        // The loser is refused: 409 if it ran beside the winner, 403 if it came after
        // (a demoted admin acts as what they are now).
        assert!(
            statuses == [200, 409] || statuses == [200, 403],
            "round {round}: {statuses:?}"
        );
        let admins = app
            .db
            .count(
                "SELECT 1 FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
                 WHERE t.slug = $1 AND m.role = 'admin'",
                Some(&slug),
            )
            .await;
        assert_eq!(admins, 1, "round {round}");
    }
    app.stop().await;
}
