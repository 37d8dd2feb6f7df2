//! Rate limits an attacker cannot walk around: a forged `X-Forwarded-For`, parallel
//! password guesses, one more API key, guessed credentials; and a lockout that cannot
//! keep an admin out for good.

use std::process::Stdio;

use serde_json::{json, Value};

use crate::common::*;

async fn login_from(app: &TestApp, xff: &str, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", xff)
        .json(&json!({"email": email, "password": password, "tenant": "default"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_buy_more_guesses() {
    // One proxy in front: only the right-most entry is the proxy's word; the rest is the
    // client's and it changes with every request.
    let app =
        TestApp::spawn_with(&[("TRUST_PROXY", "1"), ("LOGIN_MAX_FAILURES_PER_IP", "3")]).await;
    for i in 0..3 {
        let xff = format!("10.66.0.{i}, 203.0.113.7");
        let res = login_from(&app, &xff, &format!("u{i}@example.com"), "guess").await;
        assert_problem(res, 401, "unauthenticated").await;
    }
    let res = login_from(&app, "10.66.0.99, 203.0.113.7", "u9@example.com", "guess").await;
    assert_problem(res, 429, "rate_limited").await;
    // Another client behind the same proxy is not affected.
    let res = login_from(&app, "198.51.100.2", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_the_password_is_checked() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES", "5")]).await;
    let guesses = (0..24).map(|i| {
        let app = &app;
        async move {
            app.login(ADMIN_EMAIL, &format!("guess-{i}"), "default")
                .await
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status() == 401).count();
    let refused = answers.iter().filter(|r| r.status() == 429).count();
    assert_eq!(
        (checked, refused),
        (5, 19),
        "only 5 passwords may be tried in the window"
    );
    app.stop().await;
}

#[tokio::test]
async fn lockout_is_per_account_and_ip_under_a_ceiling_the_cli_lifts() {
    let app = TestApp::spawn_with(&[
        ("TRUST_PROXY", "1"),
        ("LOGIN_MAX_FAILURES", "2"),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "6"),
    ])
    .await;
    // An attacker at one address locks only themselves out of the admin's account…
    for _ in 0..2 {
        let res = login_from(&app, "192.0.2.1", ADMIN_EMAIL, "guess").await;
        assert_problem(res, 401, "unauthenticated").await;
    }
    for _ in 0..5 {
        let res = login_from(&app, "192.0.2.1", ADMIN_EMAIL, "guess").await;
        assert_problem(res, 429, "rate_limited").await;
    }
    // …the admin, elsewhere, still gets in (refused attempts did not count further).
    let res = login_from(&app, "198.51.100.9", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    // Many addresses reach the account's ceiling (2 + 2 + 2 = 6): then the admin waits too…
    for ip in ["192.0.2.2", "192.0.2.3"] {
        for _ in 0..2 {
            let res = login_from(&app, ip, ADMIN_EMAIL, "guess").await;
            assert_problem(res, 401, "unauthenticated").await;
        }
    }
    let res = login_from(&app, "198.51.100.9", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_problem(res, 429, "rate_limited").await;
    // …until the operator unlocks the account from the command line.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_penny"))
        .args([
            "admin",
            "unlock-login",
            "--tenant",
            "default",
            "--email",
            ADMIN_EMAIL,
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("may log in again"));
    let res = login_from(&app, "198.51.100.9", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn more_api_keys_do_not_buy_more_requests() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "6")]).await;
    let root = app.root_token().await;
    let (_, creator) = app.user_with_role(&root, "default", "creator").await;
    let mut keys = Vec::new();
    for i in 0..3 {
        let key: Value = app
            .post(
                &creator,
                "/api/v1/api-keys",
                json!({"name": format!("k{i}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        keys.push(key["secret"].as_str().unwrap().to_string());
    }
    // Creating the keys spent three of the user's six requests.
    let mut ok = 3;
    'spend: for _ in 0..3 {
        for key in &keys {
            let res = app.get(key, "/api/v1/me").await;
            if res.status() == 429 {
                break 'spend;
            }
            assert_eq!(res.status(), 200);
            ok += 1;
        }
    }
    assert_eq!(ok, 6, "the user's window holds across their keys");
    app.stop().await;
}

#[tokio::test]
async fn guessed_credentials_are_counted_per_ip() {
    let app = TestApp::spawn_with(&[("AUTH_MAX_FAILURES_PER_IP", "5")]).await;
    let root = app.root_token().await;
    for i in 0..5 {
        let res = app.get(&format!("pk_guess{i:040}"), "/api/v1/me").await;
        assert_problem(res, 401, "unauthenticated").await;
    }
    let res = app.get("not.a.jwt", "/api/v1/me").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
    // The address is refused before any credential is looked at, for the window.
    assert_problem(app.get(&root, "/api/v1/me").await, 429, "rate_limited").await;
    app.stop().await;
}
