//! `penny-bench api`: benchmarks the release `penny` binary (`make bench-api`). It builds
//! nothing: it starts `target/release/penny serve` on a throw-away database, measures
//! start-up, memory and HTTP latency/throughput, prints a table, and cleans up (server
//! stopped, database dropped, temp dir removed) even when something fails or on Ctrl-C.

mod api;
mod client;
mod db;
mod load;
mod report;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::db::BenchDb;
use crate::load::Settings;
use crate::server::Launch;

#[derive(Parser)]
#[command(name = "penny-bench", about = "Benchmarks of the release penny binary")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Start-up time, memory, and HTTP API latency/throughput under load.
    Api(ApiArgs),
}

#[derive(Args)]
struct ApiArgs {
    /// Seconds of measured load per endpoint.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Concurrent keep-alive connections (one client task each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load before each measured window (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Users created before the load, so the list endpoint has rows to return.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// The penny binary (default: target/release/penny).
    #[arg(long)]
    penny: Option<PathBuf>,
    /// Extra server environment, e.g. `--env DATABASE_MAX_CONNECTIONS=32` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_pair)]
    env: Vec<(String, String)>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let Bench::Api(args) = Cli::parse().command;
    match bench_api(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("penny-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench_api(args: ApiArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    let bin = server::locate_penny(args.penny.clone())?;
    let db = BenchDb::create().await?;
    let data_dir = std::env::temp_dir().join(format!("{}-data", db.name));
    eprintln!(
        "bench: {} against database {} (data dir {})",
        bin.display(),
        db.name,
        data_dir.display()
    );
    // Everything after the database exists runs here, so that it is dropped whatever
    // happens; Ctrl-C drops the run (the child is killed on drop) and cleans up too.
    let outcome = tokio::select! {
        r = run(&args, bin, &db, &data_dir) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let dropped = db.drop_it().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome?;
    dropped
}

async fn run(
    args: &ApiArgs,
    bin: PathBuf,
    db: &BenchDb,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let launch = Launch {
        bin,
        database_url: db.url.clone(),
        data_dir: data_dir.to_path_buf(),
        port: server::free_port()?,
        extra_env: args.env.clone(),
    };
    let opts = api::Options {
        settings: Settings {
            connections: args.connections,
            warmup: Duration::from_secs_f64(args.warmup.max(0.0)),
            duration: Duration::from_secs_f64(args.duration),
        },
        idle: Duration::from_secs(2),
        users: args.users,
    };
    let figures = api::run(&launch, &opts).await?;
    report::print(
        &figures,
        &report::Context {
            connections: args.connections,
            duration: opts.settings.duration,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            db_local: db.is_local(),
            extra_env: &args.env,
        },
    );
    Ok(())
}
