//! The `api` benchmark: two starts (empty then migrated database), idle memory, then
//! closed-loop load on `/health` (the baseline), `/api/v1/me` and `/api/v1/users`.

use std::time::Duration;

use anyhow::Context;
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;

use crate::client::{bearer, Conn};
use crate::load::{self, Outcome, Settings, Target};
use crate::server::{Launch, Server, ADMIN_EMAIL, ADMIN_PASSWORD};

/// Everything the report prints.
pub struct Figures {
    pub first_start: Duration,
    pub start: Duration,
    pub idle_rss: u64,
    pub loaded_rss: u64,
    pub stop: Duration,
    pub users_listed: usize,
    pub outcomes: Vec<Outcome>,
}

pub struct Options {
    pub settings: Settings,
    pub idle: Duration,
    pub users: usize,
}

pub async fn run(launch: &Launch, opts: &Options) -> anyhow::Result<Figures> {
    eprintln!("bench: first start on an empty database (runs the migrations)…");
    let (first, first_start) = launch.start().await?;
    first.stop().await.context("stopping the first server")?;
    eprintln!("bench: second start on the migrated database…");
    let (server, start) = launch.start().await?;
    let measured = measure(launch, &server, opts).await;
    let stopped = server.stop().await;
    let (idle_rss, loaded_rss, users_listed, outcomes) = measured?;
    Ok(Figures {
        first_start,
        start,
        idle_rss,
        loaded_rss,
        stop: stopped?,
        users_listed,
        outcomes,
    })
}

type Measured = (u64, u64, usize, Vec<Outcome>);

async fn measure(launch: &Launch, server: &Server, opts: &Options) -> anyhow::Result<Measured> {
    tokio::time::sleep(opts.idle).await;
    let idle_rss = server.rss_bytes()?;
    let addr = launch.addr();
    let mut conn = Conn::open(addr).await?;
    let auth = login(&mut conn).await?;
    let users_listed = seed_users(&mut conn, &auth, opts.users).await?;
    drop(conn);
    let targets = [
        Target {
            label: "GET /health",
            path: "/health",
            auth: None,
        },
        Target {
            label: "GET /api/v1/me",
            path: "/api/v1/me",
            auth: Some(auth.clone()),
        },
        Target {
            label: "GET /api/v1/users",
            path: "/api/v1/users",
            auth: Some(auth),
        },
    ];
    let mut outcomes = Vec::new();
    for t in &targets {
        eprintln!(
            "bench: {} — {} connections, {:?} warm-up + {:?}…",
            t.label, opts.settings.connections, opts.settings.warmup, opts.settings.duration
        );
        outcomes.push(load::run(addr, t, &opts.settings).await?);
    }
    let loaded_rss = server.rss_bytes()?;
    Ok((idle_rss, loaded_rss, users_listed, outcomes))
}

/// Logs in as the bootstrap admin; returns the `Authorization` header value.
pub(crate) async fn login(conn: &mut Conn) -> anyhow::Result<HeaderValue> {
    let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "tenant": "default"});
    let answer = conn
        .json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&body),
            StatusCode::OK,
        )
        .await?;
    let token = answer["access_token"]
        .as_str()
        .context("login answer has no access_token")?;
    bearer(token)
}

/// Adds `n` users (no password, so no Argon2 work) and returns how many the list shows.
async fn seed_users(conn: &mut Conn, auth: &HeaderValue, n: usize) -> anyhow::Result<usize> {
    const ROLES: [&str; 3] = ["viewer", "creator", "manager"];
    for i in 0..n {
        let body = json!({
            "email": format!("user{i:03}@bench.example.com"),
            "role": ROLES[i % ROLES.len()],
            "display_name": format!("Bench User {i}"),
        });
        conn.json(
            Method::POST,
            "/api/v1/users",
            Some(auth),
            Some(&body),
            StatusCode::CREATED,
        )
        .await?;
    }
    let list = conn
        .json(
            Method::GET,
            "/api/v1/users",
            Some(auth),
            None,
            StatusCode::OK,
        )
        .await?;
    list.as_array()
        .map(Vec::len)
        .context("GET /api/v1/users did not answer a JSON array")
}
