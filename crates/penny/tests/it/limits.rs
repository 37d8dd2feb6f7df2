//! Rate limits per user, API key and IP; login brute force; limits shared through Redis.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    for _ in 0..3 {
        assert_problem(
            app.login(ADMIN_EMAIL, "wrong-password", "default").await,
            401,
            "unauthenticated",
        )
        .await;
    }
    let res = app.login(ADMIN_EMAIL, "wrong-password", "default").await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    assert_problem(res, 429, "rate_limited").await;
    // Even the right password waits: the account is locked for the window.
    assert_problem(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await,
        429,
        "rate_limited",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_from_one_ip_across_accounts_are_throttled() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES_PER_IP", "4")]).await;
    for i in 0..4 {
        let res = app
            .login(&format!("u{i}@example.com"), "wrong-password", "default")
            .await;
        assert_problem(res, 401, "unauthenticated").await;
    }
    assert_problem(
        app.login("u9@example.com", "wrong-password", "default")
            .await,
        429,
        "rate_limited",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn requests_over_the_per_user_limit_get_429_and_ratelimit_headers() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let root = app.root_token().await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;
    let key: Value = app
        .post(&viewer, "/api/v1/api-keys", json!({"name": "own budget"}))
        .await
        .json()
        .await
        .unwrap();
    for remaining in (0..4).rev() {
        let res = app.get(&viewer, "/api/v1/me").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "5");
        assert_eq!(
            res.headers()["ratelimit-remaining"].to_str().unwrap(),
            remaining.to_string()
        );
    }
    let res = app.get(&viewer, "/api/v1/me").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
    // Other users have budgets of their own; the user's API key spends the user's.
    assert_eq!(app.get(&root, "/api/v1/me").await.status(), 200);
    assert_problem(
        app.get(key["secret"].as_str().unwrap(), "/api/v1/me").await,
        429,
        "rate_limited",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn tenant_rate_limit_overrides_the_default() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "1000")]).await;
    let root = app.root_token().await;
    let mut owner = app.db.owner().await;
    sqlx::query("UPDATE tenants SET rate_limit_per_minute = 2 WHERE slug = 'default'")
        .execute(&mut owner)
        .await
        .unwrap();
    // The tenant facts cache lives a few seconds.
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let res = app.get(&root, "/api/v1/me").await;
    assert_eq!(res.headers()["ratelimit-limit"], "2");
    app.get(&root, "/api/v1/me").await;
    assert_problem(app.get(&root, "/api/v1/me").await, 429, "rate_limited").await;
    app.stop().await;
}

#[tokio::test]
async fn limits_hold_across_two_instances_sharing_redis() {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let redis = redis_url();
    let vars = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "4"),
    ];
    let a = TestApp::spawn_with(&vars).await;
    let r: Value = a
        .http
        .get(a.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["redis"], "ok");
    // Instance B on the same database and Redis.
    let db_b = TestDb {
        name: format!("{}_unused", a.db.name),
        url: a.db.url.clone(),
    };
    let b = TestApp::spawn_on(db_b, &vars).await;
    let token = a.root_token().await;
    for app in [&a, &b, &a, &b] {
        assert_eq!(app.get(&token, "/api/v1/me").await.status(), 200);
    }
    assert_problem(b.get(&token, "/api/v1/me").await, 429, "rate_limited").await;
    assert_problem(a.get(&token, "/api/v1/me").await, 429, "rate_limited").await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn admin_changes_and_logins_are_audited() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (uid, _) = app.user_with_role(&root, "default", "viewer").await;
    app.post(&root, "/api/v1/api-keys", json!({"name": "audited"}))
        .await;
    let store = &app.running.as_ref().unwrap().store;
    let tenant = penny_store::tenants::by_slug(store.pool(), "default")
        .await
        .unwrap()
        .unwrap();
    let mut tx = store.tenant(tenant.id).await.unwrap();
    let records = penny_store::audit::recent(&mut tx, 50).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    for a in [
        "platform.bootstrap",
        "auth.login",
        "user.create",
        "api_key.create",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let created = records.iter().find(|r| r.action == "user.create").unwrap();
    assert_eq!(created.target_id.as_deref(), Some(uid.as_str()));
    assert_eq!(created.ip.as_deref(), Some("127.0.0.1"));
    let mut owner = app.db.owner().await;
    assert!(penny_store::audit::verify(&mut owner)
        .await
        .unwrap()
        .is_empty());
    // Append-only, even for the owner.
    let err = sqlx::query("DELETE FROM audit_log")
        .execute(&mut owner)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    app.stop().await;
}
