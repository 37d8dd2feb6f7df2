//! The `analytics` benchmark: a tenant with a million messages over three months (50
//! users, 4 models, conversations and tool jobs), then `GET /api/v1/admin/analytics` for a
//! 90-day range, each grouping timed over sequential requests.
//!
//! Seeding goes through the same rollup functions the server calls when a run or a job
//! ends (`penny_rollup_runs`, `penny_rollup_jobs` of migration 0007), fed with generated
//! facts in batches instead of one finished run at a time: the rollup rows are those a
//! million real runs would leave. Conversations are real rows; their trigger counts them.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::api::login;
use crate::client::Conn;
use crate::server::Launch;
use crate::stats::{met, Machine, Samples};

/// The 90-day report should answer within this at p95.
pub const TARGET_P95_MS: f64 = 100.0;

const MODELS: [&str; 4] = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-3-70b"];
const TOOLS: [&str; 4] = [
    "python_execute",
    "generate_report",
    "create_artifact",
    "current_time",
];
const GROUPS: [&str; 4] = ["day", "model", "user", "tool"];
/// Facts per rollup call (one transaction each).
const BATCH: i64 = 100_000;

pub struct Options {
    pub messages: i64,
    pub days: i32,
    pub users: usize,
    pub requests: usize,
}

pub struct Timed {
    pub group: &'static str,
    pub rows: usize,
    pub bytes: usize,
    pub times: Samples,
}

pub struct Figures {
    pub start: Duration,
    pub seed: Duration,
    pub conversations: i64,
    pub tool_jobs: i64,
    pub usage_rows: i64,
    pub seen_messages: i64,
    pub range: (String, String),
    pub timed: Vec<Timed>,
}

pub async fn run(launch: &Launch, opts: &Options) -> anyhow::Result<Figures> {
    let (server, start) = launch.start().await?;
    let measured = measure(launch, opts, start).await;
    let stopped = server.stop().await;
    let figures = measured?;
    stopped?;
    Ok(figures)
}

async fn measure(launch: &Launch, opts: &Options, start: Duration) -> anyhow::Result<Figures> {
    let mut conn = Conn::open(launch.addr()).await?;
    let auth = login(&mut conn).await?;
    for i in 1..opts.users {
        let body = json!({"email": format!("analyst{i:03}@bench.example.com"), "role": "creator"});
        conn.json(
            Method::POST,
            "/api/v1/users",
            Some(&auth),
            Some(&body),
            StatusCode::CREATED,
        )
        .await?;
    }
    let mut db = PgConnectOptions::from_str(&launch.database_url)?
        .connect()
        .await
        .context("connecting to the bench database as its owner")?;
    eprintln!(
        "bench: seeding {} messages over {} days…",
        opts.messages, opts.days
    );
    let began = Instant::now();
    let seeded = seed(&mut db, opts).await?;
    let seed_time = began.elapsed();
    let (from, to, all_from): (String, String, String) = sqlx::query_as(
        "SELECT to_char(d - 89, 'YYYY-MM-DD'), to_char(d, 'YYYY-MM-DD'), to_char(d - $1 + 1, 'YYYY-MM-DD') \
           FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS d) t",
    )
    .bind(opts.days)
    .fetch_one(&mut db)
    .await?;
    db.close().await?;

    // Everything seeded is in the report of the whole seeded range.
    let whole = get(
        &mut conn,
        &auth,
        &format!("/api/v1/admin/analytics?from={all_from}&to={to}&groupBy=model"),
    )
    .await?
    .0;
    let seen_messages = whole["totals"]["messages"].as_i64().unwrap_or(-1);
    anyhow::ensure!(
        seen_messages == opts.messages,
        "the report counts {seen_messages} messages, {} were seeded",
        opts.messages
    );

    let mut timed = Vec::new();
    for group in GROUPS {
        let path = format!("/api/v1/admin/analytics?from={from}&to={to}&groupBy={group}");
        eprintln!("bench: {path} — {} requests…", opts.requests);
        for _ in 0..3 {
            get(&mut conn, &auth, &path).await?;
        }
        let mut times = Vec::with_capacity(opts.requests);
        let mut last = (Value::Null, 0);
        for _ in 0..opts.requests {
            let began = Instant::now();
            last = get(&mut conn, &auth, &path).await?;
            times.push(began.elapsed());
        }
        timed.push(Timed {
            group,
            rows: last.0["rows"].as_array().map_or(0, Vec::len),
            bytes: last.1,
            times: Samples::new(times),
        });
    }
    Ok(Figures {
        start,
        seed: seed_time,
        conversations: seeded.conversations,
        tool_jobs: seeded.tool_jobs,
        usage_rows: seeded.usage_rows,
        seen_messages,
        range: (from, to),
        timed,
    })
}

/// One GET: the JSON answer and its size; fails unless 200.
async fn get(conn: &mut Conn, auth: &HeaderValue, path: &str) -> anyhow::Result<(Value, usize)> {
    let req = conn.request(Method::GET, path, Some(auth), None)?;
    let (status, body) = conn.send(req).await?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "GET {path}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok((serde_json::from_slice(&body)?, body.len()))
}

struct Seeded {
    conversations: i64,
    tool_jobs: i64,
    usage_rows: i64,
}

async fn seed(db: &mut PgConnection, opts: &Options) -> anyhow::Result<Seeded> {
    let tenant: String = sqlx::query_scalar("SELECT id::text FROM tenants WHERE slug = 'default'")
        .fetch_one(&mut *db)
        .await
        .context("the default tenant")?;
    let users: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM users WHERE tenant_id = $1::uuid ORDER BY email")
            .bind(&tenant)
            .fetch_all(&mut *db)
            .await?;
    let models: Vec<String> = MODELS.iter().map(|m| m.to_string()).collect();
    let tools: Vec<String> = TOOLS.iter().map(|t| t.to_string()).collect();
    // About eight messages per conversation, one tool job per ten messages.
    let conversations = (opts.messages / 8).max(1);
    let tool_jobs = (opts.messages / 10).max(1);

    let mut tx = scoped(db, &tenant).await?;
    sqlx::query(
        "INSERT INTO conversations (tenant_id, user_id, title, created_at, updated_at) \
         SELECT $1::uuid, ($2::text[])[1 + floor(random() * cardinality($2::text[]))::int]::uuid, \
                'Bench conversation', t, t \
           FROM (SELECT now() - random() * make_interval(days => $4 - 1) AS t \
                   FROM generate_series(1, $3)) AS s",
    )
    .bind(&tenant)
    .bind(&users)
    .bind(conversations)
    .bind(opts.days)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut left = opts.messages;
    while left > 0 {
        let n = left.min(BATCH);
        let mut tx = scoped(db, &tenant).await?;
        sqlx::query(
            "WITH f AS (
               SELECT floor(random() * $5)::int AS d,
                      1 + floor(random() * cardinality($2::text[]))::int AS u,
                      1 + floor(random() * cardinality($3::text[]))::int AS m,
                      random() < 0.03 AS failed,
                      200 + floor(random() * 2000)::bigint AS tin,
                      floor(random() * 800)::bigint AS tout,
                      floor(80 + 3000 * random() ^ 3)::bigint AS ttft,
                      floor(random() * 4)::int AS code
                 FROM generate_series(1, $4))
             SELECT penny_rollup_runs(ARRAY(
               SELECT ROW($1::uuid, (now() AT TIME ZONE 'UTC')::date - d, ($2::text[])[u]::uuid,
                          ($3::text[])[m], failed, tin, CASE WHEN failed THEN 0 ELSE tout END,
                          (tin * 0.5 + CASE WHEN failed THEN 0 ELSE tout END * 1.5) / 1000.0,
                          CASE WHEN failed AND code < 2 THEN NULL ELSE ttft END,
                          CASE WHEN failed THEN (ARRAY['provider_timeout', 'provider_rate_limited',
                               'provider_error', 'instance_lost'])[code + 1] END
                         )::penny_run_fact
                 FROM f))",
        )
        .bind(&tenant)
        .bind(&users)
        .bind(&models)
        .bind(n)
        .bind(opts.days)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        left -= n;
    }

    let mut tx = scoped(db, &tenant).await?;
    sqlx::query(
        "WITH f AS (
           SELECT floor(random() * $4)::int AS d,
                  1 + floor(random() * cardinality($2::text[]))::int AS t,
                  random() < 0.05 AS failed,
                  floor(20 + 20000 * random() ^ 4)::bigint AS ms
             FROM generate_series(1, $3))
         SELECT penny_rollup_jobs(ARRAY(
           SELECT ROW($1::uuid, (now() AT TIME ZONE 'UTC')::date - d, 'tools', ($2::text[])[t],
                      failed, ms)::penny_job_fact
             FROM f))",
    )
    .bind(&tenant)
    .bind(&tools)
    .bind(tool_jobs)
    .bind(opts.days)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // What autovacuum would do soon after a load like this.
    sqlx::query("ANALYZE usage_user_daily, usage_model_daily, model_users, jobs_daily, run_errors_daily, conversations_daily")
        .execute(&mut *db)
        .await?;
    let usage_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_user_daily")
        .fetch_one(&mut *db)
        .await?;
    Ok(Seeded {
        conversations,
        tool_jobs,
        usage_rows,
    })
}

/// A transaction scoped to the tenant, as the server's own are.
async fn scoped<'c>(
    db: &'c mut PgConnection,
    tenant: &str,
) -> anyhow::Result<sqlx::Transaction<'c, sqlx::Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

pub fn print(f: &Figures, opts: &Options, machine: &Machine, db_local: bool) {
    println!();
    println!(
        "PENNY analytics benchmark (release, {}{})",
        machine.describe(),
        if db_local {
            ", shared with PostgreSQL"
        } else {
            ""
        }
    );
    println!(
        "seeded in {:.1} s: {} messages over {} days, {} users, {} models, {} conversations, \
         {} tool jobs → {} usage rollup rows; start → ready {:.2} s",
        f.seed.as_secs_f64(),
        f.seen_messages,
        opts.days,
        opts.users,
        MODELS.len(),
        f.conversations,
        f.tool_jobs,
        f.usage_rows,
        f.start.as_secs_f64()
    );
    println!(
        "GET /api/v1/admin/analytics?from={}&to={} (90 days), sequential",
        f.range.0, f.range.1
    );
    println!(
        "{:<16}{:>5}{:>11}{:>11}{:>11}{:>7}{:>10}",
        "groupBy", "n", "p50", "p95", "max", "rows", "bytes"
    );
    for t in &f.timed {
        println!(
            "{:<16}{:>5}{:>8.1} ms{:>8.1} ms{:>8.1} ms{:>7}{:>10}",
            t.group,
            t.times.len(),
            t.times.p50_ms(),
            t.times.p95_ms(),
            t.times.max_ms(),
            t.rows,
            t.bytes
        );
    }
    println!("target: p95 < {TARGET_P95_MS} ms for every grouping");
    println!(
        "met:    {}",
        met(f.timed.iter().all(|t| t.times.p95_ms() < TARGET_P95_MS))
    );
}
