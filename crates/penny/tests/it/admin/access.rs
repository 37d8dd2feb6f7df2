//! Invitations, reset links, who may manage access, and the record of API-key use.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::common::*;

#[tokio::test]
async fn an_invited_user_sets_a_password_once_and_is_logged_in() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = app
        .post(
            &root,
            "/api/v1/users/invite",
            json!({"email": "New.Person@Example.com", "role": "creator", "displayName": "New Person"}),
        )
        .await;
    let invited = body(res, 201).await;
    let token = invited["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("inv_") && token.len() == 52, "{token}");
    assert_eq!(invited["inviteUrl"], format!("/invite#{token}"));
    assert_eq!(invited["user"]["email"], "new.person@example.com");
    assert_eq!(invited["user"]["role"], "creator");
    assert_eq!(invited["user"]["display_name"], "New Person");
    assert_eq!(invited["user"]["invited"], true);

    // Only the digest is stored, and the link lasts seven days.
    let mut owner = app.db.owner().await;
    let (stored, days): (i64, f64) = sqlx::query_as(
        "SELECT count(*), coalesce(max(extract(epoch FROM expires_at - created_at) / 86400), 0)::float8 \
         FROM invitations WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&token)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    assert!((days - 7.0).abs() < 0.01, "{days}");

    // No password yet: nothing logs in.
    let res = app
        .login("new.person@example.com", "invited-password-1", "default")
        .await;
    assert_eq!(res.status(), 401);

    let shown = body(inspect(&app, &token).await, 200).await;
    assert_eq!(shown["email"], "new.person@example.com");
    assert_eq!(shown["tenantName"], "Default");
    assert_eq!(shown["tenantSlug"], "default");
    assert_eq!(shown["purpose"], "invite");
    assert_eq!(shown["expiresAt"], invited["expiresAt"]);

    // A password that breaks the rules leaves the link usable.
    assert_problem(
        accept(&app, &token, "short").await,
        422,
        "validation_failed",
    )
    .await;
    let tokens = body(accept(&app, &token, "invited-password-1").await, 200).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let who = me(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(who["email"], "new.person@example.com");
    assert_eq!(who["role"], "creator");
    app.token("new.person@example.com", "invited-password-1", "default")
        .await;
    let id = invited["user"]["id"].as_str().unwrap();
    let user = body(app.get(&root, &format!("/api/v1/users/{id}")).await, 200).await;
    assert_eq!(user["invited"], false, "{user}");

    // The link works once.
    assert_problem(
        accept(&app, &token, "another-password-2").await,
        404,
        "invite_invalid",
    )
    .await;
    assert_problem(inspect(&app, &token).await, 404, "invite_invalid").await;
    for unknown in ["inv_doesnotexist", "garbage"] {
        assert_problem(inspect(&app, unknown).await, 404, "invite_invalid").await;
        assert_problem(
            accept(&app, unknown, "a-good-password").await,
            404,
            "invite_invalid",
        )
        .await;
    }

    // The address is taken now.
    let res = invite(&app, &root, "new.person@example.com", "viewer").await;
    assert_problem(res, 409, "conflict").await;

    let trail = audit(&app, &root, "action=user.").await;
    assert_eq!(actions(&trail), ["user.invite_accept", "user.invite"]);
    assert_eq!(trail["items"][0]["actorId"], invited["user"]["id"]);
    assert_eq!(trail["items"][0]["details"]["purpose"], "invite");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let invited = body(invite(&app, &root, "late@example.com", "viewer").await, 201).await;
    let token = invited["token"].as_str().unwrap();
    let mut owner = app.db.owner().await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 minute'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_problem(inspect(&app, token).await, 404, "invite_invalid").await;
    assert_problem(
        accept(&app, token, "a-good-password").await,
        404,
        "invite_invalid",
    )
    .await;
    let res = app
        .login("late@example.com", "a-good-password", "default")
        .await;
    assert_eq!(res.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn staff_manage_access_and_others_are_refused() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let root_id = me(&app, &root).await["id"].as_str().unwrap().to_string();
    let (_, manager) = app.user_with_role(&root, "default", "manager").await;
    let (creator_id, creator) = app.user_with_role(&root, "default", "creator").await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;

    // A manager invites below admin and cannot touch admins.
    let res = invite(&app, &manager, "boss@example.com", "admin").await;
    assert_problem(res, 403, "forbidden").await;
    body(
        invite(&app, &manager, "helper@example.com", "creator").await,
        201,
    )
    .await;
    let admin_reset = format!("/api/v1/users/{root_id}/reset-link");
    assert_problem(
        app.post(&manager, &admin_reset, json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let creator_reset = format!("/api/v1/users/{creator_id}/reset-link");
    body(app.post(&manager, &creator_reset, json!({})).await, 201).await;

    // Creators and viewers: none of it.
    for token in [&creator, &viewer] {
        let res = invite(&app, token, "x@example.com", "viewer").await;
        assert_problem(res, 403, "forbidden").await;
        assert_problem(
            app.post(token, &creator_reset, json!({})).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(app.get(token, "/api/v1/policies").await, 403, "forbidden").await;
        assert_problem(
            app.get(token, "/api/v1/admin/audit").await,
            403,
            "forbidden",
        )
        .await;
        let res = app.get(token, "/api/v1/admin/audit?format=csv").await;
        assert_problem(res, 403, "forbidden").await;
    }
    // Managers read policies and the audit log; only admins change policies and theme.
    body(app.get(&manager, "/api/v1/policies").await, 200).await;
    body(app.get(&manager, "/api/v1/admin/audit").await, 200).await;
    let doc = json!({"modelRoles": {}, "toolRoles": {}, "maxTokensPerMessage": null, "retentionDays": null});
    for token in [&manager, &creator, &viewer] {
        let res = app
            .send(Method::PUT, token, "/api/v1/policies", doc.clone())
            .await;
        assert_problem(res, 403, "forbidden").await;
        let theme = json!({"name": "X", "logoUrl": null, "accentColor": "#000000"});
        let res = app.send(Method::PUT, token, "/api/v1/themes", theme).await;
        assert_problem(res, 403, "forbidden").await;
    }

    // Another tenant's user is not found.
    let beta = app.tenant_with_admin(&root, "beta").await;
    let res = app.post(&beta, &creator_reset, json!({})).await;
    assert_problem(res, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_and_ends_old_sessions() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (id, _) = app.user_with_role(&root, "default", "creator").await;
    let user = body(app.get(&root, &format!("/api/v1/users/{id}")).await, 200).await;
    let email = user["email"].as_str().unwrap().to_string();
    let old = body(app.login(&email, "a-good-password", "default").await, 200).await;

    let path = format!("/api/v1/users/{id}/reset-link");
    let first = body(app.post(&root, &path, json!({})).await, 201).await;
    let second = body(app.post(&root, &path, json!({})).await, 201).await;
    let first_token = first["token"].as_str().unwrap();
    let token = second["token"].as_str().unwrap();
    assert_eq!(second["inviteUrl"], format!("/invite#{token}"));
    // A newer link replaces the older one.
    let res = inspect(&app, first_token).await;
    assert_problem(res, 404, "invite_invalid").await;
    let shown = body(inspect(&app, token).await, 200).await;
    assert_eq!(shown["purpose"], "reset");
    assert_eq!(shown["email"], email.as_str());

    let fresh = body(accept(&app, token, "brand-new-password").await, 200).await;
    // The old login is over; the new one works.
    let res = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": old["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": fresh["refresh_token"]}))
        .send()
        .await
        .unwrap();
    body(res, 200).await;
    let res = app.login(&email, "a-good-password", "default").await;
    assert_eq!(res.status(), 401);
    app.token(&email, "brand-new-password", "default").await;

    let trail = audit(&app, &root, &format!("targetType=user&targetId={id}")).await;
    assert_eq!(
        actions(&trail),
        [
            "auth.login",
            "auth.login",
            "user.invite_accept",
            "user.reset_link",
            "user.reset_link",
            "auth.login",
            "auth.login",
            "user.create"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn api_key_use_is_recorded_at_most_once_an_hour() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let key = body(
        app.post(&root, "/api/v1/api-keys", json!({"name": "ci"}))
            .await,
        201,
    )
    .await;
    let secret = key["secret"].as_str().unwrap().to_string();
    let calls = (0..4).map(|_| app.get(&secret, "/api/v1/me"));
    for res in futures::future::join_all(calls).await {
        assert_eq!(res.status(), 200);
    }
    body(app.get(&secret, "/api/v1/me").await, 200).await;
    let used = audit(&app, &root, "action=api_key.use").await;
    assert_eq!(used["items"].as_array().unwrap().len(), 1, "{used}");
    let item = &used["items"][0];
    assert_eq!(item["targetId"], key["id"]);
    assert_eq!(item["actorId"], key["user_id"]);
    assert_eq!(item["details"]["prefix"], key["prefix"]);

    // An hour later the next use is recorded again.
    let mut owner = app.db.owner().await;
    sqlx::query("UPDATE api_keys SET use_audited_at = now() - interval '61 minutes'")
        .execute(&mut owner)
        .await
        .unwrap();
    body(app.get(&secret, "/api/v1/me").await, 200).await;
    body(app.get(&secret, "/api/v1/me").await, 200).await;
    let used = audit(&app, &root, "action=api_key.use").await;
    assert_eq!(used["items"].as_array().unwrap().len(), 2);
    app.stop().await;
}
