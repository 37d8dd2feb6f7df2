//! `penny-bench`: benchmarks of the release `penny` binary. It builds nothing: it starts
//! `target/release/penny serve` on a throw-away database, measures, prints a table, and
//! cleans up (servers stopped, database dropped, temp dir removed) even when something
//! fails or on Ctrl-C.
//!
//! - `api` (`make bench-api`): start-up, memory, HTTP latency/throughput.
//! - `tools` (`make bench-tools`): `python_execute` end to end through the API.
//! - `chat` (`make bench-chat`): streaming overhead against the bare fake provider, and
//!   fan-out of one run to many WebSocket subscribers on a second instance.
//! - `analytics` (`make bench-analytics`): the admin console's 90-day report on a tenant
//!   with a million messages.
//! - `rag` (`make bench-rag`): a PDF ingested, recall of the hybrid search on a labelled
//!   set, its latency over 100k chunks, and the time a search adds to the first token.

mod analytics;
mod api;
mod bible;
mod chat;
mod client;
mod db;
mod fanout;
mod load;
mod rag;
mod report;
mod server;
mod sse;
mod stats;
mod tools;
mod upstream;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::db::BenchDb;
use crate::load::Settings;
use crate::server::Launch;
use crate::stats::Machine;

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
    /// python_execute through the API (trivial and pandas + chart) against bare python3.
    Tools(ToolsArgs),
    /// SSE streaming overhead against the bare fake provider; WebSocket fan-out via Redis.
    Chat(ChatArgs),
    /// GET /api/v1/admin/analytics over 90 days of a tenant with a million messages.
    Analytics(AnalyticsArgs),
    /// Knowledge: a PDF ingested, hybrid search recall and latency over 100k chunks.
    Rag(RagArgs),
    /// The fake model provider alone, for `chat` (prints its address; ends with stdin).
    #[command(hide = true)]
    Upstream,
}

/// Options every benchmark takes.
#[derive(Args)]
struct Common {
    /// The penny binary (default: target/release/penny).
    #[arg(long)]
    penny: Option<PathBuf>,
    /// Extra server environment, e.g. `--env DATABASE_MAX_CONNECTIONS=32` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_pair)]
    env: Vec<(String, String)>,
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
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ToolsArgs {
    /// Calls per script, one at a time with the pool warm.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Back-to-back calls per script in the burst.
    #[arg(long, default_value_t = 10)]
    burst: usize,
    /// Seconds before the first call and between warm calls (the pool refills).
    #[arg(long, default_value_t = 3.0)]
    gap: f64,
    /// The sandbox venv (default: <repo>/.penny/sandbox/venv, made by scripts/setup.sh).
    #[arg(long)]
    venv: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ChatArgs {
    /// Concurrent conversations, each streaming one answer over SSE.
    #[arg(long, default_value_t = 200)]
    streams: usize,
    /// Tokens in each streamed answer.
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    /// Milliseconds between two tokens of a streamed answer.
    #[arg(long, default_value_t = 5)]
    delay_ms: u64,
    /// Streams started per second in the paced part (open loop: one every 1/rate s,
    /// whether or not the ones before have answered).
    #[arg(long, default_value_t = 150.0)]
    rate: f64,
    /// Seconds of paced arrivals at `--rate`.
    #[arg(long, default_value_t = 3.0)]
    paced_secs: f64,
    /// Arrival rates tried, one after another, to find the most streams/s sustained.
    #[arg(long, value_delimiter = ',', default_value = "50,100,200,300,400")]
    ladder: Vec<f64>,
    /// Exchanges already in each paced conversation before its measured message (0: the
    /// measured message is the first, with no branch to read).
    #[arg(long, default_value_t = 0)]
    follow_ups: usize,
    /// Tools each message through penny allows, as the web app sends them (the tenant's
    /// settings are read to offer them).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// WebSocket subscribers on instance B in the fan-out.
    #[arg(long, default_value_t = 500)]
    subscribers: usize,
    /// Tokens in the fan-out's answer.
    #[arg(long, default_value_t = 400)]
    fanout_tokens: usize,
    /// Milliseconds between two tokens of the fan-out's answer: 5 is 200 tokens/s, which
    /// penny delivers as one event per 16 ms frame.
    #[arg(long, default_value_t = 5)]
    fanout_delay_ms: u64,
    /// Where the fake model provider runs: in a process of its own, reached across
    /// processes by the baseline client as by penny, or in the bench's process.
    #[arg(long, value_enum, default_value_t = upstream::Placement::Process)]
    upstream: upstream::Placement,
    /// Redis for the fan-out's two instances.
    #[arg(
        long,
        env = "PENNY_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct AnalyticsArgs {
    /// Messages seeded (each one run with its answer).
    #[arg(long, default_value_t = 1_000_000)]
    messages: i64,
    /// Days they are spread over, ending today (the report covers the last 90).
    #[arg(long, default_value_t = 92)]
    days: i32,
    /// Users who send them (the admin included).
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Timed requests per grouping, one at a time.
    #[arg(long, default_value_t = 30)]
    requests: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct RagArgs {
    /// Size of the PDF ingested, in MB (the KJV from Genesis, whole verses).
    #[arg(long, default_value_t = 1.3)]
    pdf_mb: f64,
    /// Labelled questions, asked in each search mode.
    #[arg(long, default_value_t = 200)]
    questions: usize,
    /// Chunks in the large collection the latency is measured over.
    #[arg(long, default_value_t = 100_000)]
    chunks: usize,
    /// Answers timed with and without a `search_documents` call.
    #[arg(long, default_value_t = 20)]
    answers: usize,
    /// The embedding model (default: <repo>/.penny/models/all-MiniLM-L6-v2, made by
    /// scripts/setup.sh).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Bench::Api(args) => bench_api(args).await,
        Bench::Tools(args) => bench_tools(args).await,
        Bench::Chat(args) => bench_chat(args).await,
        Bench::Analytics(args) => bench_analytics(args).await,
        Bench::Rag(args) => bench_rag(args).await,
        Bench::Upstream => upstream::serve().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("penny-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a benchmark runs on: the binary, a fresh database and a temp data dir.
struct Ground {
    bin: PathBuf,
    database_url: String,
    data_dir: PathBuf,
    db_local: bool,
}

impl Ground {
    /// A launch on a free port with `env` over the defaults.
    fn launch(&self, env: Vec<(String, String)>) -> anyhow::Result<Launch> {
        Ok(Launch {
            bin: self.bin.clone(),
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            port: server::free_port()?,
            extra_env: env,
        })
    }
}

/// Creates the database and data dir, runs `bench` on them, and removes both whatever
/// happens; Ctrl-C drops the run (children are killed on drop) and cleans up too.
async fn on_fresh_ground<F, Fut>(penny: Option<PathBuf>, bench: F) -> anyhow::Result<()>
where
    F: FnOnce(Ground) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let bin = server::locate_penny(penny)?;
    let db = BenchDb::create().await?;
    let data_dir = std::env::temp_dir().join(format!("{}-data", db.name));
    eprintln!(
        "bench: {} against database {} (data dir {})",
        bin.display(),
        db.name,
        data_dir.display()
    );
    let ground = Ground {
        bin,
        database_url: db.url.clone(),
        data_dir: data_dir.clone(),
        db_local: db.is_local(),
    };
    let run = async {
        std::fs::create_dir_all(&data_dir)?;
        bench(ground).await
    };
    let outcome = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let dropped = db.drop_it().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome?;
    dropped
}

async fn bench_api(args: ApiArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    let env = args.common.env.clone();
    on_fresh_ground(args.common.penny.clone(), |ground| async move {
        let launch = ground.launch(env.clone())?;
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
                db_local: ground.db_local,
                extra_env: &env,
            },
        );
        Ok(())
    })
    .await
}

async fn bench_tools(args: ToolsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    anyhow::ensure!(args.gap >= 0.0, "--gap must not be negative");
    let venv = args
        .venv
        .clone()
        .unwrap_or_else(|| repo_root().join(".penny/sandbox/venv"));
    anyhow::ensure!(
        venv.join("bin/python").exists(),
        "no sandbox venv at {} (run `bash scripts/setup.sh`, or pass --venv)",
        venv.display()
    );
    let opts = tools::Options {
        runs: args.runs,
        burst: args.burst,
        gap: Duration::from_secs_f64(args.gap),
        venv: venv.canonicalize().context("resolving the venv path")?,
    };
    let mut env = pairs(&[
        ("SANDBOX_POOL_SIZE", "2"),
        ("TOOLS_RATE_PER_SEC", "0"),
        ("SANDBOX_VENV", &opts.venv.display().to_string()),
    ]);
    env.extend(args.common.env.iter().cloned());
    on_fresh_ground(args.common.penny.clone(), |ground| async move {
        let launch = ground.launch(env)?;
        let figures = tools::run(&launch, &opts).await?;
        tools::print(&figures, &opts, &Machine::now(), ground.db_local);
        Ok(())
    })
    .await
}

async fn bench_chat(args: ChatArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.streams > 0, "--streams must be at least 1");
    anyhow::ensure!(args.tokens > 0, "--tokens must be at least 1");
    anyhow::ensure!(args.fanout_tokens > 0, "--fanout-tokens must be at least 1");
    anyhow::ensure!(
        args.rate > 0.0 && args.paced_secs > 0.0 && args.ladder.iter().all(|r| *r > 0.0),
        "--rate, --paced-secs and every --ladder rate must be positive"
    );
    let paced_streams = |rate: f64| ((rate * args.paced_secs).ceil() as usize).max(1);
    let most_paced = args
        .ladder
        .iter()
        .chain([&args.rate])
        .map(|r| paced_streams(*r))
        .max()
        .unwrap_or(1);
    // Each subscriber and stream is a socket here and one in the server (which inherits
    // this limit), plus the servers' database connections and files.
    raise_open_files(args.subscribers.max(args.streams).max(most_paced) as u64 + 512)?;
    let opts = chat::Options {
        streams: args.streams,
        rate: args.rate,
        paced_secs: args.paced_secs,
        ladder: args.ladder.clone(),
        tokens: args.tokens,
        delay_ms: args.delay_ms,
        follow_ups: args.follow_ups,
        tools: args.tools.clone(),
        upstream: args.upstream,
        fanout: fanout::Options {
            subscribers: args.subscribers,
            tokens: args.fanout_tokens,
            delay_ms: args.fanout_delay_ms,
        },
    };
    // One sealing key for every instance, so B reads the model key A stored.
    let mut env = pairs(&[(
        "PENNY_ENCRYPTION_KEY",
        "cGVubnktYmVuY2gtc2VhbGluZy1rZXktMzItYnl0ZSE=",
    )]);
    env.extend(args.common.env.iter().cloned());
    let mut clustered = env.clone();
    clustered.extend(pairs(&[
        ("REDIS_URL", &args.redis),
        (
            "REDIS_PREFIX",
            &format!("penny-bench-{}", std::process::id()),
        ),
    ]));
    on_fresh_ground(args.common.penny.clone(), |ground| async move {
        let single = ground.launch(env)?;
        let a = ground.launch(clustered.clone())?;
        let mut b = ground.launch(clustered)?;
        while b.port == a.port {
            b.port = server::free_port()?;
        }
        let figures = chat::run(&single, [&a, &b], &opts).await?;
        chat::print(&figures, &opts, &Machine::now(), ground.db_local);
        Ok(())
    })
    .await
}

async fn bench_analytics(args: AnalyticsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    anyhow::ensure!(
        args.days >= 90,
        "--days must be at least 90 (the report covers 90)"
    );
    anyhow::ensure!(args.users >= 1, "--users must be at least 1");
    anyhow::ensure!(args.requests > 0, "--requests must be at least 1");
    let opts = analytics::Options {
        messages: args.messages,
        days: args.days,
        users: args.users,
        requests: args.requests,
    };
    let env = args.common.env.clone();
    on_fresh_ground(args.common.penny.clone(), |ground| async move {
        let launch = ground.launch(env)?;
        let figures = analytics::run(&launch, &opts).await?;
        analytics::print(&figures, &opts, &Machine::now(), ground.db_local);
        Ok(())
    })
    .await
}

async fn bench_rag(args: RagArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.pdf_mb > 0.0, "--pdf-mb must be positive");
    anyhow::ensure!(args.questions > 0, "--questions must be at least 1");
    anyhow::ensure!(args.answers > 0, "--answers must be at least 1");
    let model_dir = args
        .model_dir
        .clone()
        .unwrap_or_else(|| repo_root().join(".penny/models/all-MiniLM-L6-v2"));
    anyhow::ensure!(
        model_dir.join("config.json").exists(),
        "no embedding model at {} (run `bash scripts/setup.sh`, or pass --model-dir)",
        model_dir.display()
    );
    let opts = rag::Options {
        pdf_bytes: (args.pdf_mb * 1e6) as usize,
        questions: args.questions,
        chunks: args.chunks,
        answers: args.answers,
        model_dir: model_dir
            .canonicalize()
            .context("resolving the model path")?,
    };
    let mut env = pairs(&[
        ("EMBEDDING_MODEL_DIR", &opts.model_dir.display().to_string()),
        ("TOOLS_RATE_PER_SEC", "0"),
    ]);
    env.extend(args.common.env.iter().cloned());
    on_fresh_ground(args.common.penny.clone(), |ground| async move {
        let launch = ground.launch(env)?;
        let figures = rag::run(&launch, &opts).await?;
        rag::print(&figures, &opts, &Machine::now(), ground.db_local);
        Ok(())
    })
    .await
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Raises the soft open-files limit to `want` (at most the hard limit) when it is lower.
fn raise_open_files(want: u64) -> anyhow::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("reading RLIMIT_NOFILE")?;
    if soft >= want {
        return Ok(());
    }
    let new = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, new, hard).context("raising RLIMIT_NOFILE")?;
    eprintln!("bench: open-files limit raised from {soft} to {new}");
    anyhow::ensure!(
        new >= want,
        "the open-files hard limit is {hard}, below the {want} this run needs (fewer --subscribers?)"
    );
    Ok(())
}
