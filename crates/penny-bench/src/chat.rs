//! The `chat` benchmark, part one: what streaming through penny costs. The fake model
//! provider runs in this process; N concurrent conversations each stream one answer over
//! SSE (`POST /api/v1/chat/{id}/messages`, `Accept: text/event-stream`: the message is
//! stored, a run calls the provider, every delta is appended to the event log and
//! published before it reaches the client). The baseline is the same N concurrent streams
//! read straight from the provider's `/v1/chat/completions`, in the same run.
//!
//! Part two, the fan-out of one run to many WebSocket subscribers on another instance, is
//! in [`crate::fanout`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http::header::ACCEPT;
use http::{HeaderValue, Method, StatusCode};
use penny_fake_llm::{FakeOptions, FakeServer};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::client::{bearer, Conn};
use crate::fanout;
use crate::server::Launch;
use crate::sse;
use crate::stats::{Machine, Samples};

/// The key the fake provider requires, so penny's sealed-key path runs too.
pub const PROVIDER_KEY: &str = "sk-penny-bench";
/// A stream that has not ended by then counts as an error.
const STREAM_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Options {
    pub streams: usize,
    pub tokens: usize,
    pub delay_ms: u64,
    pub fanout: fanout::Options,
}

/// What N concurrent streams did, on one side (direct or through penny).
pub struct Side {
    pub first_delta: Samples,
    pub total: Samples,
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
}

pub struct Figures {
    pub direct: Side,
    pub penny: Side,
    pub fanout: fanout::Figures,
}

pub async fn run(single: &Launch, pair: [&Launch; 2], opts: &Options) -> anyhow::Result<Figures> {
    let fake = penny_fake_llm::spawn(FakeOptions {
        require_api_key: Some(PROVIDER_KEY.into()),
        ..FakeOptions::default()
    })
    .await
    .context("starting the fake model provider")?;
    eprintln!("bench: fake provider on {}", fake.addr);
    eprintln!("bench: starting penny (one instance, in-process bus)…");
    let (server, _) = single.start().await?;
    let streamed = streaming(single.addr(), &fake, opts).await;
    let stopped = server.stop().await;
    let (direct, penny) = streamed?;
    stopped?;
    let fanout = fanout::run(pair, &fake, &opts.fanout).await?;
    Ok(Figures {
        direct,
        penny,
        fanout,
    })
}

async fn streaming(
    addr: SocketAddr,
    fake: &FakeServer,
    opts: &Options,
) -> anyhow::Result<(Side, Side)> {
    let mut conn = Conn::open(addr).await?;
    let auth = crate::api::login(&mut conn).await?;
    ensure_model(&mut conn, &auth, fake).await?;
    let mut conversations = Vec::with_capacity(opts.streams);
    for _ in 0..opts.streams {
        conversations.push(create_conversation(&mut conn, &auth).await?);
    }
    drop(conn);
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
        let addr = fake.addr;
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
        async move { Prepared::penny(addr, &auth, &conversation, &content).await }
    })
    .await?;
    check_tokens(&penny, opts)?;
    Ok((direct, penny))
}

/// A stream that counts fewer deltas than tokens asked for would flatter its figures.
fn check_tokens(side: &Side, opts: &Options) -> anyhow::Result<()> {
    let complete = opts.streams - side.errors;
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
    fake: &FakeServer,
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
struct Prepared {
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

/// One stream's timings.
struct Timed {
    first_delta: Duration,
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

    async fn penny(
        addr: SocketAddr,
        auth: &HeaderValue,
        conversation: &str,
        content: &str,
    ) -> anyhow::Result<Prepared> {
        let conn = Conn::open(addr).await?;
        let mut req = conn.request(
            Method::POST,
            &format!("/api/v1/chat/{conversation}/messages"),
            Some(auth),
            Some(&json!({"content": content})),
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
    async fn stream(mut self) -> anyhow::Result<Timed> {
        let began = Instant::now();
        let res = self.conn.send_streaming(self.req).await?;
        if res.status() != StatusCode::OK {
            bail!("answered {}", res.status());
        }
        let mut events = sse::Reader::new(res.into_body());
        let mut first = None;
        let mut deltas = 0;
        loop {
            let Some(e) = events.next().await? else {
                bail!("the stream ended after {deltas} deltas without its end event");
            };
            let delta = match self.kind {
                Kind::Direct => {
                    if e.data == "[DONE]" {
                        break;
                    }
                    let chunk: Value = serde_json::from_str(&e.data)?;
                    chunk["choices"][0]["delta"]["content"]
                        .as_str()
                        .is_some_and(|t| !t.is_empty())
                }
                Kind::Penny => match e.event.as_str() {
                    "message.delta" => true,
                    "run.completed" => break,
                    "run.failed" | "run.cancelled" => bail!("{}: {}", e.event, e.data),
                    _ => false,
                },
            };
            if delta {
                deltas += 1;
                first.get_or_insert(e.at - began);
            }
        }
        Ok(Timed {
            first_delta: first.context("no delta at all")?,
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
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let prepared = prepare(i);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let prepared = prepared.await;
            barrier.wait().await;
            let stream = prepared?.stream();
            tokio::time::timeout(STREAM_TIMEOUT, stream)
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("no end after {STREAM_TIMEOUT:?}")))
        }));
    }
    barrier.wait().await;
    let began = Instant::now();
    let mut first_delta = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut deltas = 0;
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        match t.await? {
            Ok(timed) => {
                first_delta.push(timed.first_delta);
                total.push(timed.total);
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
        deltas,
        wall: began.elapsed(),
        errors,
        first_error,
    })
}

pub fn print(f: &Figures, opts: &Options, machine: &Machine, db_local: bool) {
    println!();
    println!(
        "PENNY chat benchmark (release, {}{}; the fake provider and the clients run in the bench process)",
        machine.describe(),
        if db_local {
            ", shared with PostgreSQL and Redis"
        } else {
            ""
        }
    );
    println!(
        "streaming: {} concurrent conversations, one answer each of {} tokens {} ms apart, over SSE",
        opts.streams, opts.tokens, opts.delay_ms
    );
    println!(
        "{:<26}{:>8}{:>8}{:>22}{:>22}{:>11}",
        "", "streams", "errors", "first delta p50/p95", "total p50/p95", "deltas/s"
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
    fanout::print(&f.fanout, &opts.fanout);
}
