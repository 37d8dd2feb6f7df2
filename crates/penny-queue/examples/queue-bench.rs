//! `cargo run --release -p penny-queue --example queue-bench`: the queue's latency and
//! throughput on a throw-away database of the server in `PENNY_TEST_DATABASE_URL`
//! (default: postgres://postgres@127.0.0.1:5432/postgres). Prints figures. Sizes:
//! `PENNY_BENCH_JOBS`, `PENNY_BENCH_CONCURRENCY`, `PENNY_BENCH_LATENCY_SAMPLES`.

use std::str::FromStr;

use penny_queue::bench::{self, BenchOptions};
use penny_store::{Store, TenantId};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("PENNY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let server = PgConnectOptions::from_str(&server)?;
    let name = format!("penny_bench_{}", Uuid::new_v4().simple());
    let mut admin = server.connect().await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;

    let result = run(server.clone().database(&name)).await;

    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    println!("{}", result?);
    Ok(())
}

async fn run(owner: PgConnectOptions) -> Result<bench::BenchReport, Box<dyn std::error::Error>> {
    penny_store::migrate(&owner).await?;
    let mut conn = owner.connect().await?;
    let tenant: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (slug, name) VALUES ('bench', 'Bench') RETURNING id",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    let store = Store::connect(owner, 16).await?;
    let defaults = BenchOptions::default();
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let opts = BenchOptions {
        latency_samples: env("PENNY_BENCH_LATENCY_SAMPLES", defaults.latency_samples),
        throughput_jobs: env("PENNY_BENCH_JOBS", defaults.throughput_jobs),
        concurrency: env("PENNY_BENCH_CONCURRENCY", defaults.concurrency),
        enqueue_batch: defaults.enqueue_batch,
    };
    let report = bench::run(&store, TenantId(tenant), &opts).await?;
    store.close().await;
    Ok(report)
}
