//! The `tools` benchmark: `POST /api/v1/tools/python_execute/invoke?wait=true` end to end
//! (HTTP, auth, job enqueue, worker claim, bubblewrap sandbox from the warm pool, artifact
//! storage, completion), for a trivial script and a pandas + matplotlib chart; first one
//! call at a time with the pool refilled between calls (what a user gets), then bursts of
//! back-to-back calls (the pool drains). The baseline is a bare host `python3 -c
//! 'print(1)'`, measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use crate::client::Conn;
use crate::server::Launch;
use crate::stats::{met, Machine, Samples};

const TRIVIAL: &str = "print(1)";
const CHART: &str = "import pandas as pd, matplotlib.pyplot as plt; \
    df=pd.DataFrame({'x':range(10),'y':range(10)}); df.plot(x='x',y='y'); \
    plt.savefig('/workspace/output/c.png')";
const INVOKE: &str = "/api/v1/tools/python_execute/invoke?wait=true";

const TARGET_TRIVIAL_P95_MS: f64 = 150.0;
const TARGET_CHART_P95_MS: f64 = 400.0;

pub struct Options {
    /// Sequential calls per script with the pool warm.
    pub runs: usize,
    /// Back-to-back calls per script in the burst.
    pub burst: usize,
    /// Pause before the first call and between warm calls (the pool refills).
    pub gap: Duration,
    pub venv: PathBuf,
}

/// One script's calls.
pub struct Series {
    pub label: &'static str,
    pub times: Samples,
    /// Calls whose job did not end `completed` with outcome ok (and the expected artifact).
    pub errors: usize,
    pub first_error: Option<String>,
}

pub struct Figures {
    pub host: Samples,
    pub trivial: Series,
    pub chart: Series,
    pub trivial_burst: Series,
    pub chart_burst: Series,
    pub start: Duration,
}

pub async fn run(launch: &Launch, opts: &Options) -> anyhow::Result<Figures> {
    eprintln!(
        "bench: baseline, host python3 -c 'print(1)' ×{}…",
        opts.runs
    );
    let host = host_python(opts.runs).await?;
    eprintln!("bench: starting penny (sandbox pool of 2, tools rate limit off)…");
    let (server, start) = launch.start().await?;
    let measured = measure(launch, opts).await;
    let stopped = server.stop().await;
    let (trivial, chart, trivial_burst, chart_burst) = measured?;
    stopped?;
    Ok(Figures {
        host,
        trivial,
        chart,
        trivial_burst,
        chart_burst,
        start,
    })
}

type Measured = (Series, Series, Series, Series);

async fn measure(launch: &Launch, opts: &Options) -> anyhow::Result<Measured> {
    let mut conn = Conn::open(launch.addr()).await?;
    let auth = crate::api::login(&mut conn).await?;
    // The pool fills after start; one unmeasured call of each script warms the rest
    // (the worker's connections, the first artifact write).
    tokio::time::sleep(opts.gap).await;
    for script in [TRIVIAL, CHART] {
        invoke(&mut conn, &auth, script, script == CHART).await?;
        tokio::time::sleep(opts.gap).await;
    }
    eprintln!(
        "bench: {} calls per script, one at a time, {:?} apart (pool warm)…",
        opts.runs, opts.gap
    );
    let trivial = series(&mut conn, &auth, "print(1)", TRIVIAL, opts.runs, opts.gap).await?;
    let chart = series(
        &mut conn,
        &auth,
        "pandas + chart",
        CHART,
        opts.runs,
        opts.gap,
    )
    .await?;
    eprintln!(
        "bench: bursts of {} back-to-back calls per script…",
        opts.burst
    );
    let zero = Duration::ZERO;
    let trivial_burst = series(&mut conn, &auth, "print(1)", TRIVIAL, opts.burst, zero).await?;
    // Let the pool refill so the second burst starts like the first.
    tokio::time::sleep(opts.gap * 2).await;
    let chart_burst = series(&mut conn, &auth, "pandas + chart", CHART, opts.burst, zero).await?;
    Ok((trivial, chart, trivial_burst, chart_burst))
}

/// `n` calls of `script`, one at a time, `gap` between the end of one and the next.
async fn series(
    conn: &mut Conn,
    auth: &HeaderValue,
    label: &'static str,
    script: &str,
    n: usize,
    gap: Duration,
) -> anyhow::Result<Series> {
    let mut times = Vec::with_capacity(n);
    let mut errors = 0;
    let mut first_error = None;
    for i in 0..n {
        if i > 0 && !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let began = Instant::now();
        let outcome = invoke(conn, auth, script, script == CHART).await;
        times.push(began.elapsed());
        if let Err(e) = outcome {
            errors += 1;
            first_error.get_or_insert_with(|| format!("{e:#}"));
        }
    }
    Ok(Series {
        label,
        times: Samples::new(times),
        errors,
        first_error,
    })
}

/// One call; fails unless the job completed with outcome ok (and one artifact for a chart).
async fn invoke(
    conn: &mut Conn,
    auth: &HeaderValue,
    script: &str,
    chart: bool,
) -> anyhow::Result<()> {
    let body = json!({"params": {"script": script}});
    let job = conn
        .json(
            Method::POST,
            INVOKE,
            Some(auth),
            Some(&body),
            StatusCode::OK,
        )
        .await?;
    check(&job, chart)
}

fn check(job: &Value, chart: bool) -> anyhow::Result<()> {
    let result = &job["result"];
    if job["status"] != "completed" || result["outcome"] != "ok" {
        bail!(
            "job {} ended {} with outcome {} (error {}, stderr {})",
            job["id"],
            job["status"],
            result["outcome"],
            job["error"],
            result["stderr"]
        );
    }
    let artifacts = result["artifacts"].as_array().map_or(0, Vec::len);
    let expected = usize::from(chart);
    if artifacts != expected {
        bail!(
            "job {} made {artifacts} artifacts, expected {expected}",
            job["id"]
        );
    }
    if !chart && result["stdout"].as_str().map(str::trim) != Some("1") {
        bail!(
            "job {} printed {} instead of 1",
            job["id"],
            result["stdout"]
        );
    }
    Ok(())
}

/// The system interpreter (the one the sandbox venv is made from), not a shim on `PATH`
/// such as pyenv's, whose own start-up would make the baseline meaningless.
fn host_python3() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

async fn host_python(n: usize) -> anyhow::Result<Samples> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let began = Instant::now();
        let out = tokio::process::Command::new(host_python3())
            .args(["-c", "print(1)"])
            .output()
            .await
            .context("running host python3")?;
        times.push(began.elapsed());
        if !out.status.success() {
            bail!("host python3 -c 'print(1)' failed: {}", out.status);
        }
    }
    Ok(Samples::new(times))
}

pub fn print(f: &Figures, opts: &Options, machine: &Machine, db_local: bool) {
    println!();
    println!(
        "PENNY tools benchmark (release, python_execute through the API, {}{})",
        machine.describe(),
        if db_local {
            ", shared with PostgreSQL"
        } else {
            ""
        }
    );
    println!(
        "server: SANDBOX_POOL_SIZE=2 TOOLS_RATE_PER_SEC=0, start → ready {:.2} s; warm calls {:.1} s apart",
        f.start.as_secs_f64(),
        opts.gap.as_secs_f64()
    );
    println!(
        "{:<42}{:>5}{:>11}{:>11}{:>11}{:>8}{:>14}",
        "", "n", "p50", "p95", "max", "errors", "p95 vs host"
    );
    let host_p95 = f.host.p95_ms();
    let row = |label: String, s: &Samples, errors: Option<usize>| {
        let ratio = if host_p95 > 0.0 {
            format!("{:.1}×", s.p95_ms() / host_p95)
        } else {
            "-".into()
        };
        println!(
            "{label:<42}{:>5}{:>8.1} ms{:>8.1} ms{:>8.1} ms{:>8}{:>14}",
            s.len(),
            s.p50_ms(),
            s.p95_ms(),
            s.max_ms(),
            errors.map_or("-".into(), |e| e.to_string()),
            ratio
        );
    };
    row(
        "host python3 -c 'print(1)' (baseline)".into(),
        &f.host,
        None,
    );
    for (s, how) in [
        (&f.trivial, "pool warm"),
        (&f.chart, "pool warm"),
        (&f.trivial_burst, "burst"),
        (&f.chart_burst, "burst"),
    ] {
        row(format!("{}, {how}", s.label), &s.times, Some(s.errors));
    }
    for s in [&f.trivial, &f.chart, &f.trivial_burst, &f.chart_burst] {
        if let Some(e) = &s.first_error {
            println!("errors on {}: first was {e}", s.label);
        }
    }
    println!(
        "targets: print(1) p95 ≤ {TARGET_TRIVIAL_P95_MS} ms, pandas + chart p95 ≤ {TARGET_CHART_P95_MS} ms (pool warm)"
    );
    println!(
        "met:     print(1) {}, pandas + chart {}",
        met(f.trivial.errors == 0 && f.trivial.times.p95_ms() <= TARGET_TRIVIAL_P95_MS),
        met(f.chart.errors == 0 && f.chart.times.p95_ms() <= TARGET_CHART_P95_MS),
    );
    println!(
        "note: each call is one HTTP request that waits for its job (enqueue, claim, sandbox, \
         artifact upload, commit); a burst drains the pool of 2, which refills one at a time."
    );
}
