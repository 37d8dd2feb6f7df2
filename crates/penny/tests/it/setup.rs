//! First-run set-up in the browser: without `PENNY_ADMIN_PASSWORD` tenant `default` starts
//! without an admin and a one-time set-up token (printed as a link) creates it.

use penny::bootstrap::FirstRun;
use penny::config::{Config, Source};
use penny::roles::{Role, Roles};
use penny::serve;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::admin::{actions, anon, audit, body, me};
use crate::common::*;

/// No admin password: the first start offers the set-up link.
const NO_PASSWORD: (&str, &str) = ("PENNY_ADMIN_PASSWORD", "");

/// The set-up token a start printed.
fn setup_token(app: &TestApp) -> String {
    match &app.running.as_ref().unwrap().first_run {
        Some(FirstRun::Setup { token }) => token.clone(),
        other => panic!("expected a set-up link, got {other:?}"),
    }
}

/// Stops `app` and starts it again on the same database with `overrides`.
async fn restart(app: TestApp, overrides: &[(&str, &str)]) -> TestApp {
    let TestApp {
        running,
        db,
        data_dir,
        ..
    } = app;
    running.unwrap().stop().await;
    let _ = std::fs::remove_dir_all(data_dir);
    TestApp::spawn_on(db, overrides).await
}

async fn needed(app: &TestApp) -> bool {
    let res = anon(app, Method::GET, "/api/v1/setup", None).await;
    body(res, 200).await["needed"].as_bool().unwrap()
}

async fn finish(app: &TestApp, b: Value) -> reqwest::Response {
    anon(app, Method::POST, "/api/v1/setup", Some(b)).await
}

fn request(token: &str, email: &str, password: &str) -> Value {
    json!({"token": token, "email": email, "password": password})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_up_link_creates_the_super_admin_once() {
    let app = TestApp::spawn_with(&[NO_PASSWORD]).await;
    let token = setup_token(&app);
    assert!(token.starts_with("setup_") && token.len() >= 40, "{token}");
    assert!(needed(&app).await);
    // Nobody can log in yet, not even with the configured e-mail.
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await;
    assert_problem(res, 401, "unauthenticated").await;

    let wrong = request("setup_not-the-token", "ada@example.com", "a-good-password");
    assert_problem(finish(&app, wrong).await, 403, "setup_token_invalid").await;
    let bad_email = request(&token, "not-an-email", "a-good-password");
    let problem = assert_problem(finish(&app, bad_email).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
    let short = request(&token, "ada@example.com", "short");
    let problem = assert_problem(finish(&app, short).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password", "{problem}");
    let mut long_name = request(&token, "ada@example.com", "a-good-password");
    long_name["displayName"] = json!("x".repeat(201));
    let problem = assert_problem(finish(&app, long_name).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "displayName", "{problem}");
    assert!(needed(&app).await, "refused attempts used nothing up");

    // Another replica's link, valid too until the set-up is done.
    let mut owner = app.db.owner().await;
    sqlx::query("SELECT penny_setup_issue(sha256('another replica'::bytea))")
        .execute(&mut owner)
        .await
        .unwrap();

    // The right token: the admin exists and is logged in, as by a login.
    let mut good = request(&token, "Ada@Example.com", "a-good-password");
    good["displayName"] = json!("Ada Lovelace");
    let tokens = body(finish(&app, good.clone()).await, 200).await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let access = tokens["access_token"].as_str().unwrap();
    let who = me(&app, access).await;
    let facts = [
        &who["email"],
        &who["role"],
        &who["is_super_admin"],
        &who["display_name"],
        &who["tenant"]["slug"],
    ];
    let expected = [
        json!("ada@example.com"),
        json!("admin"),
        json!(true),
        json!("Ada Lovelace"),
        json!("default"),
    ];
    assert_eq!(facts.map(Value::clone), expected, "{who}");
    assert_eq!(
        app.login("ada@example.com", "a-good-password", "default")
            .await
            .status(),
        200
    );
    let log = audit(&app, access, "action=platform.bootstrap").await;
    assert_eq!(actions(&log), ["platform.bootstrap"], "{log}");

    // Done for good: the same token, or any other, is refused; the page says so. No
    // token is left (the other replica's included).
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM setup_tokens")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(left, 0);
    owner.close().await.unwrap();
    assert_problem(finish(&app, good).await, 404, "setup_done").await;
    let other = request("setup_other", "eve@example.com", "a-good-password");
    assert_problem(finish(&app, other).await, 404, "setup_done").await;
    assert!(!needed(&app).await);
    let spec = body(
        anon(&app, Method::GET, "/api/v1/openapi.json", None).await,
        200,
    )
    .await;
    let documented = &spec["paths"]["/api/v1/setup"];
    assert!(
        documented["get"].is_object() && documented["post"].is_object(),
        "{documented}"
    );

    // A restart neither prints a link nor asks again.
    let app = restart(app, &[NO_PASSWORD]).await;
    assert!(app.running.as_ref().unwrap().first_run.is_none());
    assert!(!needed(&app).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_start_prints_a_set_up_link_that_works_until_an_admin_exists() {
    let app = TestApp::spawn_with(&[NO_PASSWORD]).await;
    let first = setup_token(&app);
    let app = restart(app, &[NO_PASSWORD]).await;
    let second = setup_token(&app);
    assert_ne!(first, second);
    // Both tokens pass the token check (and then fail on the e-mail, using nothing), as
    // the links of two API replicas that started together must.
    for token in [&first, &second] {
        let probe = request(token, "not-an-email", "a-good-password");
        assert_problem(finish(&app, probe).await, 422, "validation_failed").await;
    }
    // The 16 most recent stay valid: after 15 more starts, the first link is refused.
    let mut owner = app.db.owner().await;
    sqlx::query("SELECT penny_setup_issue(sha256(gen_random_uuid()::text::bytea)) FROM generate_series(1, 15)")
        .execute(&mut owner)
        .await
        .unwrap();
    let tokens = "SELECT count(*) FROM setup_tokens";
    let count: i64 = sqlx::query_scalar(tokens)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(count, 16);
    let old = request(&first, "ada@example.com", "a-good-password");
    assert_problem(finish(&app, old).await, 403, "setup_token_invalid").await;
    let probe = request(&second, "not-an-email", "a-good-password");

    // A process that does not serve the web app leaves the printed link alone.
    let mut vars = base_env(&app.db, &app.data_dir);
    vars.push((NO_PASSWORD.0.into(), NO_PASSWORD.1.into()));
    let cfg = Config::load(&Source::from_pairs(vars).unwrap()).unwrap();
    let worker = serve::start(&cfg, &Roles::new(vec![Role::Scheduler]), Some(0))
        .await
        .unwrap();
    assert!(worker.first_run.is_none());
    worker.stop().await;
    assert_problem(finish(&app, probe).await, 422, "validation_failed").await;

    // A start with PENNY_ADMIN_PASSWORD creates the admin from the configuration instead;
    // the link stops working.
    let app = restart(app, &[]).await;
    let created = app.running.as_ref().unwrap().first_run.clone();
    let email = ADMIN_EMAIL.to_string();
    assert_eq!(created, Some(FirstRun::Admin { email }));
    let late = request(&second, "ada@example.com", "a-good-password");
    assert_problem(finish(&app, late).await, 404, "setup_done").await;
    assert!(!needed(&app).await);
    let count: i64 = sqlx::query_scalar(tokens)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(count, 0, "no set-up token outlives the set-up");
    owner.close().await.unwrap();
    let root = app.root_token().await;
    let who = me(&app, &root).await;
    assert_eq!(who["is_super_admin"], true, "{who}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_admin_address_that_is_taken_falls_back_to_the_link() {
    let app = TestApp::spawn_with(&[NO_PASSWORD]).await;
    // A viewer with the address PENNY_ADMIN_EMAIL names (as `penny admin create-user` makes).
    let mut owner = app.db.owner().await;
    sqlx::query(
        "WITH u AS (INSERT INTO users (tenant_id, email) \
                    SELECT id, $1 FROM tenants WHERE slug = 'default' RETURNING tenant_id, id) \
         INSERT INTO memberships (tenant_id, user_id, role) SELECT tenant_id, id, 'viewer' FROM u",
    )
    .bind(ADMIN_EMAIL)
    .execute(&mut owner)
    .await
    .unwrap();
    owner.close().await.unwrap();

    // The start with PENNY_ADMIN_PASSWORD does not take that account over, nor fail: it
    // offers the set-up link.
    let app = restart(app, &[]).await;
    let token = setup_token(&app);
    assert!(needed(&app).await);
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await;
    assert_problem(res, 401, "unauthenticated").await;
    let taken = request(&token, ADMIN_EMAIL, "a-good-password");
    assert_problem(finish(&app, taken).await, 409, "conflict").await;
    let other = request(&token, "ada@example.com", "a-good-password");
    body(finish(&app, other).await, 200).await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_set_up_tokens_are_throttled_per_address() {
    let app = TestApp::spawn_with(&[NO_PASSWORD, ("LOGIN_MAX_FAILURES_PER_IP", "3")]).await;
    let token = setup_token(&app);
    for i in 0..3 {
        let guess = format!("setup_guess{i}");
        let wrong = request(&guess, "a@example.com", "a-good-password");
        assert_problem(finish(&app, wrong).await, 403, "setup_token_invalid").await;
    }
    // Refused before the token is looked at, even the right one.
    let right = request(&token, "a@example.com", "a-good-password");
    let res = finish(&app, right).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
    assert!(needed(&app).await);
    app.stop().await;
}
