//! Latency of sandboxed runs through the warm pool, with a bare host
//! `python3 -c 'print(1)'` as the baseline, measured in the same process.
//!
//!     cargo run --release -p penny-sandbox --example sandbox-bench [-- ITERATIONS]
//!
//! Each pooled run waits until the pool is full again first: the figures are
//! the latency a user sees when the server is not saturated. The on-demand line
//! is what a run costs when the pool is empty.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use penny_sandbox::{Outcome, RunRequest, Sandbox, SandboxConfig};

const CHART: &str = r#"
import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({"x": range(10), "y": [v * v for v in range(10)]})
df.plot(x="x", y="y")
plt.savefig("output/chart.png")
print(df["y"].sum())
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let venv = std::env::var_os("PENNY_SANDBOX_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.penny/sandbox/venv")
        });
    let config = SandboxConfig {
        venv: venv.clone(),
        pool_size: 2,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config.clone()).await?;
    let on_demand = Sandbox::start(SandboxConfig {
        pool_size: 0,
        ..config
    })
    .await?;

    let host = measure(iterations, || async {
        let out = tokio::process::Command::new("/usr/bin/python3")
            .args(["-c", "print(1)"])
            .output()
            .await?;
        if !out.status.success() {
            return Err("host python3 failed".into());
        }
        Ok(None)
    })
    .await?;
    report("host python3 -c 'print(1)' (unsandboxed)", &host);
    report(
        "host venv, warm interpreter: chart code only",
        &host_chart(&venv, iterations).await?,
    );

    for (label, script, pool) in [
        ("print(1) via the pool", "print(1)", &sandbox),
        ("pandas + matplotlib PNG via the pool", CHART, &sandbox),
        ("print(1) on demand (empty pool)", "print(1)", &on_demand),
    ] {
        let times = measure(iterations, || async {
            pool.wait_warm(Duration::from_secs(30)).await;
            let req = RunRequest {
                script: script.to_owned(),
                files: vec![],
                timeout: Duration::from_secs(10),
            };
            let t = Instant::now();
            let out = pool.run(req).await?;
            let elapsed = t.elapsed();
            if out.outcome != Outcome::Ok {
                return Err(format!("run failed: {out:?}").into());
            }
            Ok(Some(elapsed))
        })
        .await?;
        report(label, &times);
    }
    Ok(())
}

/// The chart script's own cost: run in one host interpreter that has already
/// imported everything (no sandbox, no process start).
async fn host_chart(venv: &std::path::Path, n: usize) -> Result<Vec<Duration>, BoxError> {
    let code = format!(
        "import time, matplotlib\nmatplotlib.use('Agg')\nimport pandas, matplotlib.pyplot as plt, os\n\
         os.makedirs('/tmp/penny-bench/output', exist_ok=True)\nos.chdir('/tmp/penny-bench')\n\
         for i in range({n} + 1):\n    t = time.perf_counter()\n    exec({CHART:?}, {{}})\n    plt.close('all')\n\
         \x20   print('T', time.perf_counter() - t)\n"
    );
    let out = tokio::process::Command::new(venv.join("bin/python"))
        .args(["-c", &code])
        .output()
        .await?;
    let mut times: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("T ")?.parse().ok())
        .skip(1) // the first one loads fonts and backends, like the pool's warm-up
        .map(Duration::from_secs_f64)
        .collect();
    if times.is_empty() {
        return Err(format!(
            "host chart failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    times.sort();
    Ok(times)
}

type BoxError = Box<dyn std::error::Error>;

/// Times `f`; when it returns a duration, that is the measured part.
async fn measure<F, Fut>(n: usize, mut f: F) -> Result<Vec<Duration>, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Duration>, BoxError>>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let inner = f().await?;
        times.push(inner.unwrap_or_else(|| t.elapsed()));
    }
    times.sort();
    Ok(times)
}

fn report(label: &str, sorted: &[Duration]) {
    let pick =
        |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    println!(
        "{label:<45} n={:<4} p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        sorted.len(),
        pick(0.50).as_secs_f64() * 1e3,
        pick(0.95).as_secs_f64() * 1e3,
        pick(1.0).as_secs_f64() * 1e3,
    );
}
