//! The `chat` benchmark, part one: what streaming through penny costs. The fake model
//! provider runs in a process of its own ([`crate::upstream`]); N concurrent conversations each stream one answer over
//! SSE (`POST /api/v1/chat/{id}/messages`, `Accept: text/event-stream`: the message is
//! stored, a run calls the provider, every delta is appended to the event log and
//! published before it reaches the client). The baseline is the same N concurrent streams
//! read straight from the provider's `/v1/chat/completions`, in the same run.
//!
//! A burst (every stream starting at once) mostly measures queueing on a small machine, so
//! streams are also started at a steady rate (open loop), which is how load reaches a
//! server: the time to first delta added at that rate, the time added per token, and
//! a ladder of rates for the most streams/s sustained.
//!
//! Part two, the fan-out of one run to many WebSocket subscribers on another instance, is
//! in [`crate::fanout`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http::header::ACCEPT;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::client::{bearer, Conn};
use crate::fanout;
use crate::server::Launch;
use crate::sse;
use crate::stats::{CpuTimes, Machine, Samples};
use crate::upstream::{Placement, Upstream};

/// The key the fake provider requires, so penny's sealed-key path runs too.
pub const PROVIDER_KEY: &str = "sk-penny-bench";
/// A stream that has not ended by then counts as an error.
const STREAM_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Options {
    pub streams: usize,
    /// Streams started per second in the paced part.
    pub rate: f64,
    /// Seconds of paced arrivals.
    pub paced_secs: f64,
    /// Rates tried for the most streams/s sustained.
    pub ladder: Vec<f64>,
    pub tokens: usize,
    pub delay_ms: u64,
    /// Exchanges seeded in each paced conversation before its measured message.
    pub follow_ups: usize,
    /// Tools each message through penny allows.
    pub tools: Vec<String>,
    pub upstream: Placement,
    pub fanout: fanout::Options,
}

/// What N concurrent streams did, on one side (direct or through penny).
pub struct Side {
    pub first_delta: Samples,
    pub total: Samples,
    /// Until each response's head.
    pub headers: Samples,
    /// Per stream, the mean time between two deltas after the first.
    pub per_token: Samples,
    pub deltas: usize,
    /// From the common start to the end of the last stream.
    pub wall: Duration,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Side {
    pub fn deltas_per_sec(&self) -> f64 {
        self.deltas as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Streams open at once on average: their summed durations over the wall time.
    pub fn concurrency(&self) -> f64 {
        let busy: f64 = self.total.iter().map(|d| d.as_secs_f64()).sum();
        busy / self.wall.as_secs_f64().max(1e-9)
    }
}

/// One paced run: `rate` streams/s on both sides.
pub struct Paced {
    pub rate: f64,
    pub direct: Side,
    pub penny: Side,
    /// CPU used by each side's streams (direct: the bench process alone does the work).
    pub direct_cpu: CpuTimes,
    pub penny_cpu: CpuTimes,
}

impl Paced {
    /// Keeps up: every stream completed, and the first delta's p99 through penny stays
    /// within 100 ms of the direct p99 at the same rate.
    pub fn sustained(&self) -> bool {
        self.penny.errors == 0
            && self.penny.first_delta.p99_ms() <= self.direct.first_delta.p99_ms() + 100.0
    }
}

pub struct Figures {
    pub direct: Side,
    pub penny: Side,
    /// At `--rate`.
    pub paced: Paced,
    /// At each ladder rate.
    pub ladder: Vec<Paced>,
    pub fanout: fanout::Figures,
}

pub async fn run(single: &Launch, pair: [&Launch; 2], opts: &Options) -> anyhow::Result<Figures> {
    let fake = Upstream::start(opts.upstream).await?;
    eprintln!(
        "bench: fake provider on {} ({})",
        fake.addr(),
        opts.upstream.describe()
    );
    eprintln!("bench: starting penny (one instance, in-process bus)…");
    let (server, _) = single.start().await?;
    let streamed = streaming(single.addr(), server.pid(), &fake, opts).await;
    let stopped = server.stop().await;
    let (direct, penny, paced, ladder) = streamed?;
    stopped?;
    let fanout = fanout::run(pair, &fake, &opts.fanout).await?;
    Ok(Figures {
        direct,
        penny,
        paced,
        ladder,
        fanout,
    })
}

async fn streaming(
    addr: SocketAddr,
    pid: u32,
    fake: &Upstream,
    opts: &Options,
) -> anyhow::Result<(Side, Side, Paced, Vec<Paced>)> {
    let mut conn = Conn::open(addr).await?;
    let auth = crate::api::login(&mut conn).await?;
    ensure_model(&mut conn, &auth, fake).await?;
    let mut conversations = Vec::with_capacity(opts.streams);
    for _ in 0..opts.streams {
        conversations.push(create_conversation(&mut conn, &auth).await?);
    }
    let content = format!(
        "Benchmark [[tokens={} delay_ms={}]]",
        opts.tokens, opts.delay_ms
    );
    eprintln!(
        "bench: baseline, {} concurrent streams straight from the fake provider…",
        opts.streams
    );
    let direct = concurrently(opts.streams, |_| {
        let content = content.clone();
        let addr = fake.addr();
        async move { Prepared::direct(addr, &content).await }
    })
    .await?;
    check_tokens(&direct, opts)?;
    eprintln!(
        "bench: {} concurrent streams through penny over SSE…",
        opts.streams
    );
    let penny = concurrently(opts.streams, |i| {
        let content = content.clone();
        let conversation = conversations[i].clone();
        let auth = auth.clone();
        let tools = opts.tools.clone();
        async move { Prepared::penny(addr, &auth, &conversation, &content, &tools).await }
    })
    .await?;
    check_tokens(&penny, opts)?;
    let paced = pace(&mut conn, &auth, (addr, pid), fake, opts, opts.rate).await?;
    let mut ladder = Vec::with_capacity(opts.ladder.len());
    for rate in &opts.ladder {
        ladder.push(pace(&mut conn, &auth, (addr, pid), fake, opts, *rate).await?);
    }
    Ok((direct, penny, paced, ladder))
}

/// Streams started at `rate` per second for `opts.paced_secs`, straight from the fake
/// provider and then through penny (each stream in a conversation of its own).
async fn pace(
    conn: &mut Conn,
    auth: &HeaderValue,
    (addr, pid): (SocketAddr, u32),
    fake: &Upstream,
    opts: &Options,
    rate: f64,
) -> anyhow::Result<Paced> {
    let n = ((rate * opts.paced_secs).ceil() as usize).max(1);
    let mut conversations = Vec::with_capacity(n);
    for _ in 0..n {
        conversations.push(create_conversation(conn, auth).await?);
    }
    if opts.follow_ups > 0 {
        eprintln!(
            "bench: {} earlier exchanges in each of {n} conversations…",
            opts.follow_ups
        );
        for conversation in &conversations {
            for _ in 0..opts.follow_ups {
                Prepared::penny(addr, auth, conversation, "Earlier [[tokens=8]]", &[])
                    .await?
                    .stream()
                    .await?;
            }
        }
    }
    let content = format!(
        "Benchmark [[tokens={} delay_ms={}]]",
        opts.tokens, opts.delay_ms
    );
    eprintln!("bench: {n} streams at {rate}/s, direct and through penny…");
    let cpu = CpuTimes::now(pid, fake.pid());
    let direct = run_streams(n, Some(rate), |_| {
        let content = content.clone();
        let addr = fake.addr();
        async move { Prepared::direct(addr, &content).await }
    })
    .await?;
    check_tokens(&direct, opts)?;
    let between = CpuTimes::now(pid, fake.pid());
    let penny = run_streams(n, Some(rate), |i| {
        let content = content.clone();
        let conversation = conversations[i].clone();
        let auth = auth.clone();
        let tools = opts.tools.clone();
        async move { Prepared::penny(addr, &auth, &conversation, &content, &tools).await }
    })
    .await?;
    let direct_cpu = between.since(&cpu);
    let penny_cpu = CpuTimes::now(pid, fake.pid()).since(&between);
    Ok(Paced {
        rate,
        direct,
        penny,
        direct_cpu,
        penny_cpu,
    })
}

/// A stream that counts fewer deltas than tokens asked for would flatter its figures.
fn check_tokens(side: &Side, opts: &Options) -> anyhow::Result<()> {
    let complete = side.total.len();
    if complete > 0 && side.deltas < complete * opts.tokens {
        bail!(
            "{} complete streams brought {} deltas, expected {} each",
            complete,
            side.deltas,
            opts.tokens
        );
    }
    Ok(())
}

/// Adds the model `fake` (the tenant's default) pointing at the fake provider, unless the
/// tenant has it already.
pub async fn ensure_model(
    conn: &mut Conn,
    auth: &HeaderValue,
    fake: &Upstream,
) -> anyhow::Result<()> {
    let list = conn
        .json(
            Method::GET,
            "/api/v1/models",
            Some(auth),
            None,
            StatusCode::OK,
        )
        .await?;
    if list
        .as_array()
        .is_some_and(|l| l.iter().any(|m| m["name"] == "fake"))
    {
        return Ok(());
    }
    let body = json!({"name": "fake", "provider": "openai", "base_url": fake.openai_base(),
        "api_key": PROVIDER_KEY, "is_default": true});
    conn.json(
        Method::POST,
        "/api/v1/models",
        Some(auth),
        Some(&body),
        StatusCode::CREATED,
    )
    .await?;
    Ok(())
}

pub async fn create_conversation(conn: &mut Conn, auth: &HeaderValue) -> anyhow::Result<String> {
    let c = conn
        .json(
            Method::POST,
            "/api/v1/conversations",
            Some(auth),
            Some(&json!({})),
            StatusCode::CREATED,
        )
        .await?;
    c["id"]
        .as_str()
        .map(str::to_string)
        .context("the new conversation has no id")
}

/// One stream, connected and with its request built, waiting for the start.
pub(crate) struct Prepared {
    conn: Conn,
    req: http::Request<http_body_util::Full<hyper::body::Bytes>>,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    /// OpenAI chunks: a delta is a chunk with non-empty `choices[0].delta.content`.
    Direct,
    /// Penny's events: `message.delta` until `run.completed`.
    Penny,
}

/// One stream's timings (`deltas` counts tokens).
pub(crate) struct Timed {
    pub(crate) first_delta: Duration,
    /// Until the response's head: through penny, the message and run are stored by then.
    headers: Duration,
    last_delta: Duration,
    total: Duration,
    deltas: usize,
}

impl Prepared {
    async fn direct(addr: SocketAddr, content: &str) -> anyhow::Result<Prepared> {
        let conn = Conn::open(addr).await?;
        let body = json!({"model": "fake", "stream": true,
            "messages": [{"role": "user", "content": content}]});
        let mut req = conn.request(
            Method::POST,
            "/v1/chat/completions",
            Some(&bearer(PROVIDER_KEY)?),
            Some(&body),
        )?;
        req.headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        Ok(Prepared {
            conn,
            req,
            kind: Kind::Direct,
        })
    }

    pub(crate) async fn penny(
        addr: SocketAddr,
        auth: &HeaderValue,
        conversation: &str,
        content: &str,
        tools: &[String],
    ) -> anyhow::Result<Prepared> {
        let conn = Conn::open(addr).await?;
        let mut req = conn.request(
            Method::POST,
            &format!("/api/v1/chat/{conversation}/messages"),
            Some(auth),
            Some(&json!({"content": content, "toolsAllowed": tools})),
        )?;
        req.headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        Ok(Prepared {
            conn,
            req,
            kind: Kind::Penny,
        })
    }

    /// Sends the request and reads the stream to its end.
    pub(crate) async fn stream(mut self) -> anyhow::Result<Timed> {
        let began = Instant::now();
        let res = self.conn.send_streaming(self.req).await?;
        let headers = began.elapsed();
        if res.status() != StatusCode::OK {
            bail!("answered {}", res.status());
        }
        let mut events = sse::Reader::new(res.into_body());
        let mut first = None;
        let mut last = Duration::ZERO;
        let mut deltas = 0;
        loop {
            let Some(e) = events.next().await? else {
                bail!("the stream ended after {deltas} deltas without its end event");
            };
            // Tokens this event brings: each of the fake's tokens is one word, and penny may
            // merge a message's queued deltas into one event.
            let tokens = match self.kind {
                Kind::Direct => {
                    if e.data == "[DONE]" {
                        break;
                    }
                    let chunk: Value = serde_json::from_str(&e.data)?;
                    let text = chunk["choices"][0]["delta"]["content"].as_str();
                    usize::from(text.is_some_and(|t| !t.is_empty()))
                }
                Kind::Penny => match e.event.as_str() {
                    "message.delta" => {
                        let delta: Value = serde_json::from_str(&e.data)?;
                        delta["text"]
                            .as_str()
                            .map_or(0, |t| t.split_whitespace().count())
                    }
                    "run.completed" => break,
                    "run.failed" | "run.cancelled" => bail!("{}: {}", e.event, e.data),
                    _ => 0,
                },
            };
            if tokens > 0 {
                deltas += tokens;
                last = e.at - began;
                first.get_or_insert(last);
            }
        }
        Ok(Timed {
            first_delta: first.context("no delta at all")?,
            headers,
            last_delta: last,
            total: began.elapsed(),
            deltas,
        })
    }
}

/// Prepares `n` streams (connections open, requests built), starts them together, and
/// collects their timings.
async fn concurrently<F, Fut>(n: usize, prepare: F) -> anyhow::Result<Side>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Prepared>> + Send + 'static,
{
    run_streams(n, None, prepare).await
}

/// Prepares `n` streams, then starts them all at once (`rate` `None`) or stream `i` at
/// `i / rate` seconds after the start, and collects their timings.
async fn run_streams<F, Fut>(n: usize, rate: Option<f64>, prepare: F) -> anyhow::Result<Side>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Prepared>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n + 1));
    let start = Arc::new(std::sync::OnceLock::new());
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let prepared = prepare(i);
        let barrier = barrier.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let prepared = prepared.await;
            barrier.wait().await;
            if let Some(rate) = rate {
                let t0: Instant = *start.get_or_init(Instant::now);
                let at = t0 + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
            }
            let stream = prepared?.stream();
            tokio::time::timeout(STREAM_TIMEOUT, stream)
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("no end after {STREAM_TIMEOUT:?}")))
        }));
    }
    barrier.wait().await;
    let began = *start.get_or_init(Instant::now);
    let mut first_delta = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut per_token = Vec::with_capacity(n);
    let mut headers = Vec::with_capacity(n);
    let mut deltas = 0;
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        match t.await? {
            Ok(timed) => {
                first_delta.push(timed.first_delta);
                headers.push(timed.headers);
                total.push(timed.total);
                if timed.deltas > 1 {
                    per_token.push(
                        timed.last_delta.saturating_sub(timed.first_delta)
                            / (timed.deltas as u32 - 1),
                    );
                }
                deltas += timed.deltas;
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    Ok(Side {
        first_delta: Samples::new(first_delta),
        total: Samples::new(total),
        per_token: Samples::new(per_token),
        headers: Samples::new(headers),
        deltas,
        wall: began.elapsed(),
        errors,
        first_error,
    })
}

pub fn print(f: &Figures, opts: &Options, machine: &Machine, db_local: bool) {
    println!();
    println!(
        "PENNY chat benchmark (release, {}{}; {})",
        machine.describe(),
        if db_local {
            ", shared with PostgreSQL and Redis"
        } else {
            ""
        },
        opts.upstream.describe()
    );
    println!(
        "streaming: {} concurrent conversations, one answer each of {} tokens {} ms apart, over SSE",
        opts.streams, opts.tokens, opts.delay_ms
    );
    println!(
        "{:<26}{:>8}{:>8}{:>22}{:>22}{:>11}",
        "", "streams", "errors", "first delta p50/p95", "total p50/p95", "tokens/s"
    );
    let row = |label: &str, s: &Side| {
        println!(
            "{label:<26}{:>8}{:>8}{:>22}{:>22}{:>11.0}",
            s.total.len(),
            s.errors,
            format!(
                "{:.1} / {:.1} ms",
                s.first_delta.p50_ms(),
                s.first_delta.p95_ms()
            ),
            format!("{:.0} / {:.0} ms", s.total.p50_ms(), s.total.p95_ms()),
            s.deltas_per_sec()
        );
    };
    row("fake provider, direct", &f.direct);
    row("through penny", &f.penny);
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}×", a / b)
        } else {
            "-".into()
        }
    };
    let (d, p) = (&f.direct, &f.penny);
    println!(
        "{:<42}{:>22}{:>22}{:>11}",
        "overhead (penny / direct)",
        format!(
            "{} / {}",
            ratio(p.first_delta.p50_ms(), d.first_delta.p50_ms()),
            ratio(p.first_delta.p95_ms(), d.first_delta.p95_ms())
        ),
        format!(
            "{} / {}",
            ratio(p.total.p50_ms(), d.total.p50_ms()),
            ratio(p.total.p95_ms(), d.total.p95_ms())
        ),
        ratio(p.deltas_per_sec(), d.deltas_per_sec())
    );
    for (label, s) in [("direct", d), ("penny", p)] {
        if let Some(e) = &s.first_error {
            println!("errors {label}: first was {e}");
        }
    }
    print_paced(&f.paced, opts);
    println!("most streams/s sustained (all complete, first delta p99 within 100 ms of direct):");
    println!(
        "{:>10}{:>12}{:>8}{:>40}{:>10}",
        "rate/s", "concurrent", "errors", "first delta p50/p99, direct → penny", "keeps up"
    );
    for step in &f.ladder {
        println!(
            "{:>10.0}{:>12.0}{:>8}{:>40}{:>10}",
            step.rate,
            step.penny.concurrency(),
            step.penny.errors,
            format!(
                "{:.1}/{:.1} → {:.1}/{:.1} ms",
                step.direct.first_delta.p50_ms(),
                step.direct.first_delta.p99_ms(),
                step.penny.first_delta.p50_ms(),
                step.penny.first_delta.p99_ms()
            ),
            if step.sustained() { "yes" } else { "no" }
        );
    }
    match f
        .ladder
        .iter()
        .filter(|s| s.sustained())
        .map(|s| s.rate)
        .reduce(f64::max)
    {
        Some(r) => println!("  most sustained: {r:.0} streams/s"),
        None => println!("  most sustained: none of the rates tried"),
    }
    fanout::print(&f.fanout, &opts.fanout);
}

/// The paced part: what penny adds per stream at a steady arrival rate.
fn print_paced(p: &Paced, opts: &Options) {
    let kind = match opts.follow_ups {
        0 => "first messages".to_string(),
        n => format!("follow-ups after {n} exchanges"),
    };
    let tools = match opts.tools.as_slice() {
        [] => String::new(),
        t => format!(", tools {}", t.join(",")),
    };
    println!(
        "paced: {:.0} streams/s for {} s (open loop), {kind}{tools}, {} tokens {} ms apart; mean concurrent streams direct {:.0}, penny {:.0}",
        p.rate,
        opts.paced_secs,
        opts.tokens,
        opts.delay_ms,
        p.direct.concurrency(),
        p.penny.concurrency()
    );
    let (d, n) = (&p.direct, &p.penny);
    println!(
        "  first delta p50 / p99     direct {:>7.2} / {:>7.2} ms   penny {:>7.2} / {:>7.2} ms   added {:>7.2} / {:>7.2} ms",
        d.first_delta.p50_ms(),
        d.first_delta.p99_ms(),
        n.first_delta.p50_ms(),
        n.first_delta.p99_ms(),
        n.first_delta.p50_ms() - d.first_delta.p50_ms(),
        n.first_delta.p99_ms() - d.first_delta.p99_ms()
    );
    println!(
        "  response head p50 / p99   direct {:>7.2} / {:>7.2} ms   penny {:>7.2} / {:>7.2} ms   (penny: message and run stored)",
        d.headers.p50_ms(),
        d.headers.p99_ms(),
        n.headers.p50_ms(),
        n.headers.p99_ms()
    );
    println!(
        "  per token p50 / p99       direct {:>7.3} / {:>7.3} ms   penny {:>7.3} / {:>7.3} ms   added {:>7.3} / {:>7.3} ms",
        d.per_token.p50_ms(),
        d.per_token.p99_ms(),
        n.per_token.p50_ms(),
        n.per_token.p99_ms(),
        n.per_token.p50_ms() - d.per_token.p50_ms(),
        n.per_token.p99_ms() - d.per_token.p99_ms()
    );
    let per_stream = |cpu: f64, side: &Side| cpu * 1000.0 / (side.first_delta.len().max(1) as f64);
    let (dc, pc) = (&p.direct_cpu, &p.penny_cpu);
    // The direct side runs in the bench and the provider alone.
    let direct_total = dc.bench + dc.upstream;
    println!(
        "  CPU per stream            direct {:>7.2} ms            penny {:>7.2} ms (bench {:.2} + penny {:.2} + PostgreSQL {:.2} + provider {:.2})   {:.2}× direct",
        per_stream(direct_total, d),
        per_stream(pc.total(), n),
        per_stream(pc.bench, n),
        per_stream(pc.server, n),
        per_stream(pc.postgres, n),
        per_stream(pc.upstream, n),
        pc.total() / direct_total.max(1e-9) * (d.first_delta.len().max(1) as f64) / (n.first_delta.len().max(1) as f64)
    );
    println!(
        "  errors                    direct {}   penny {}",
        d.errors, n.errors
    );
    for (label, s) in [("direct", d), ("penny", n)] {
        if let Some(e) = &s.first_error {
            println!("  errors {label}: first was {e}");
        }
    }
}
