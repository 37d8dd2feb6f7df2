//! The printed table, the targets, and which of them were met.

use std::time::Duration;

use crate::api::Figures;
use crate::load::Outcome;

const TARGET_P50_MS: f64 = 2.0;
const TARGET_RPS: f64 = 10_000.0;
const TARGET_IDLE_RSS_MB: f64 = 60.0;
const TARGET_START_S: f64 = 1.0;

pub struct Context<'a> {
    pub connections: usize,
    pub duration: Duration,
    pub cores: usize,
    pub db_local: bool,
    pub extra_env: &'a [(String, String)],
}

pub fn print(f: &Figures, c: &Context<'_>) {
    let sharing = if c.db_local {
        "client, server and PostgreSQL"
    } else {
        "client and server"
    };
    println!();
    println!(
        "PENNY API benchmark (release, {} connections, {} s, {} cores shared by {sharing})",
        c.connections,
        fmt_secs(c.duration),
        c.cores
    );
    if !c.extra_env.is_empty() {
        let pairs: Vec<String> = c
            .extra_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("server env overrides: {}", pairs.join(" "));
    }
    println!(
        "start → ready (migrated db)   {:.2} s   (first start incl. migrations {:.2} s)",
        f.start.as_secs_f64(),
        f.first_start.as_secs_f64()
    );
    println!(
        "idle RSS                      {:.1} MB  (after load {:.1} MB)",
        mb(f.idle_rss),
        mb(f.loaded_rss)
    );
    println!(
        "SIGTERM → exit                {:.2} s",
        f.stop.as_secs_f64()
    );
    println!(
        "{:<20}{:>9}{:>10}{:>10}{:>10}{:>10}{:>8}{:>11}",
        "endpoint", "req/s", "p50", "p90", "p99", "max", "errors", "vs /health"
    );
    let base = f.outcomes.first().map(Outcome::per_second).unwrap_or(0.0);
    for o in &f.outcomes {
        let h = &o.latency_us;
        println!(
            "{:<20}{:>9.0}{:>10}{:>10}{:>10}{:>10}{:>8}{:>10.0}%",
            o.label,
            o.per_second(),
            fmt_us(h.value_at_quantile(0.50)),
            fmt_us(h.value_at_quantile(0.90)),
            fmt_us(h.value_at_quantile(0.99)),
            fmt_us(h.max()),
            o.errors,
            if base > 0.0 {
                100.0 * o.per_second() / base
            } else {
                0.0
            },
        );
    }
    println!("(GET /api/v1/users lists {} users)", f.users_listed);
    for o in f.outcomes.iter().filter(|o| o.errors > 0) {
        println!(
            "errors on {}: first was {}",
            o.label,
            o.first_error.as_deref().unwrap_or("?")
        );
    }
    println!(
        "targets: p50 ≤ {TARGET_P50_MS} ms, ≥ {}k req/s, idle RSS ≤ {TARGET_IDLE_RSS_MB} MB, start → ready ≤ {TARGET_START_S} s",
        TARGET_RPS / 1000.0
    );
    println!("met:     {}", verdicts(f).join(", "));
    println!(
        "note: the load client runs on the same {} cores as the server{}; /health (no auth, no \
         database) is the ceiling of this machine, read the API rows against it.",
        c.cores,
        if c.db_local { " and PostgreSQL" } else { "" }
    );
}

fn verdicts(f: &Figures) -> Vec<String> {
    let mut out = vec![
        mark("start → ready", f.start.as_secs_f64() <= TARGET_START_S),
        mark("idle RSS", mb(f.idle_rss) <= TARGET_IDLE_RSS_MB),
    ];
    // The targets are about the API; /health is only the baseline.
    for o in f.outcomes.iter().skip(1) {
        let p50_ms = o.latency_us.value_at_quantile(0.5) as f64 / 1000.0;
        let path = o.label.trim_start_matches("GET ");
        out.push(mark(&format!("{path} p50"), p50_ms <= TARGET_P50_MS));
        out.push(mark(&format!("{path} req/s"), o.per_second() >= TARGET_RPS));
    }
    out
}

fn mark(what: &str, ok: bool) -> String {
    format!("{what} {}", if ok { "yes" } else { "NO" })
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn fmt_us(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}
