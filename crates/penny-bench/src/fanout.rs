//! The `chat` benchmark, part two: fan-out across instances. Two `penny serve` processes
//! share one database and one Redis. Many WebSocket subscribers follow one conversation
//! on instance B (`/ws/chat/{id}`: auth frame, `ready`, `resume`); one message is sent on
//! instance A with `Accept: text/event-stream`, so A's own SSE answer is the reference
//! reader. Per delta: the spread from the first subscriber on B receiving it to the last;
//! per delta and subscriber: its receive time minus the reference's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use http::header::ACCEPT;
use http::{HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::client::Conn;
use crate::server::{Launch, Server};
use crate::sse;
use crate::stats::{signed_us, Offsets, Samples};
use crate::upstream::Upstream;

/// Sockets being opened at once (connect, auth, ready, resume).
const OPENING_AT_ONCE: usize = 64;
/// How long a subscriber waits for the run's end.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between the last `resume` and the message, so every socket is streaming.
const SETTLE: Duration = Duration::from_millis(500);

pub struct Options {
    pub subscribers: usize,
    pub tokens: usize,
    pub delay_ms: u64,
}

pub struct Figures {
    /// Per delta: last subscriber's receipt minus the first's.
    pub spread: Samples,
    /// Per delta and subscriber: receipt on B minus receipt by A's SSE reader.
    pub lag: Offsets,
    pub deltas: usize,
    /// Receipts expected (subscribers × deltas) that never came.
    pub missing: usize,
    /// Subscribers that failed (could not open, or broke off).
    pub failed: usize,
    pub first_error: Option<String>,
    /// Time to open and authenticate every subscriber.
    pub open: Duration,
}

/// Starts A, then B (so B finds what A created at start), measures, stops both.
pub async fn run(pair: [&Launch; 2], fake: &Upstream, opts: &Options) -> anyhow::Result<Figures> {
    eprintln!("bench: starting penny A and B on one database and Redis…");
    let (a, _) = pair[0].start().await?;
    let b = match pair[1].start().await {
        Ok((b, _)) => b,
        Err(e) => {
            let _ = a.stop().await;
            return Err(e);
        }
    };
    let measured = measure(pair[0].addr(), pair[1].addr(), fake, opts).await;
    let stopped = stop_both(a, b).await;
    let figures = measured?;
    stopped?;
    Ok(figures)
}

async fn stop_both(a: Server, b: Server) -> anyhow::Result<()> {
    let (sa, sb) = tokio::join!(a.stop(), b.stop());
    sa.context("stopping A")?;
    sb.context("stopping B")?;
    Ok(())
}

/// `(seq, receipt)` of every `message.delta` one reader saw.
type Receipts = Vec<(i64, Instant)>;

async fn measure(
    a: SocketAddr,
    b: SocketAddr,
    fake: &Upstream,
    opts: &Options,
) -> anyhow::Result<Figures> {
    let mut conn = Conn::open(a).await?;
    let auth = crate::api::login(&mut conn).await?;
    let token = auth
        .to_str()?
        .strip_prefix("Bearer ")
        .context("not a bearer header")?
        .to_string();
    crate::chat::ensure_model(&mut conn, &auth, fake).await?;
    let conversation = crate::chat::create_conversation(&mut conn, &auth).await?;

    eprintln!(
        "bench: opening {} WebSocket subscribers on B…",
        opts.subscribers
    );
    let opened_from = Instant::now();
    let (ready_tx, mut ready_rx) = mpsc::channel::<anyhow::Result<()>>(opts.subscribers.max(1));
    let gate = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let url = format!("ws://{b}/ws/chat/{conversation}");
    let mut subscribers = Vec::with_capacity(opts.subscribers);
    for _ in 0..opts.subscribers {
        let (url, token, gate, ready) =
            (url.clone(), token.clone(), gate.clone(), ready_tx.clone());
        subscribers.push(tokio::spawn(subscriber(url, token, gate, ready)));
    }
    drop(ready_tx);
    let mut failed = 0;
    let mut first_error = None;
    for _ in 0..opts.subscribers {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
            None => break,
        }
    }
    let open = opened_from.elapsed();
    if failed == opts.subscribers && failed > 0 {
        bail!(
            "no subscriber could open: {}",
            first_error.unwrap_or_default()
        );
    }
    tokio::time::sleep(SETTLE).await;

    eprintln!(
        "bench: one {}-token answer sent on A, read over SSE on A and by every subscriber…",
        opts.tokens
    );
    let reference = reference_stream(&mut conn, &auth, &conversation, opts).await?;
    let mut per_subscriber = Vec::with_capacity(opts.subscribers);
    for s in subscribers {
        match s.await? {
            Ok(Some(r)) => per_subscriber.push(r),
            Ok(None) => {} // could not open; counted above
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    Ok(figures(
        &reference,
        &per_subscriber,
        opts,
        failed,
        first_error,
        open,
    ))
}

/// The subscribers' sockets. The bench's 500 clients share the server's cores, so what
/// they cost is taken from the server: tungstenite's default read buffer (128 KiB,
/// zeroed on every read) was half of it.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// What a subscriber reads of an event; the rest is skipped, not parsed.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<i64>,
}

/// One subscriber: opens (within the gate), reports ready, then records deltas until the
/// run ends. `Ok(None)` when it could not open (reported on `ready`).
async fn subscriber(
    url: String,
    token: String,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<anyhow::Result<()>>,
) -> anyhow::Result<Option<Receipts>> {
    let opened = async {
        let _permit = gate.acquire().await?;
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
            url.as_str(),
            Some(client_config()),
            false,
        )
        .await
        .context("connecting")?;
        let auth = json!({"type": "auth", "token": token});
        ws.send(Message::Text(auth.to_string().into())).await?;
        let last_seq = loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .context("no ready frame within 30 s")?
                .context("closed before ready")??;
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v["type"].as_str() {
                    Some("ready") => break v["lastSeq"].as_i64().unwrap_or(0),
                    _ => bail!("expected ready, got {t}"),
                }
            }
        };
        let resume = json!({"type": "resume", "after": last_seq});
        ws.send(Message::Text(resume.to_string().into())).await?;
        anyhow::Ok(ws)
    }
    .await;
    let mut ws = match opened {
        Ok(ws) => {
            let _ = ready.send(Ok(())).await;
            ws
        }
        Err(e) => {
            let _ = ready.send(Err(e)).await;
            return Ok(None);
        }
    };
    drop(ready);
    let mut receipts = Vec::new();
    let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("the run did not end in time")?
            .context("the socket closed before the run ended")??;
        let at = Instant::now();
        let Message::Text(t) = frame else { continue };
        let head: Head = serde_json::from_str(t.as_str())?;
        match head.kind.as_str() {
            "message.delta" => {
                receipts.push((head.seq.context("a delta without seq")?, at));
            }
            "run.completed" => break,
            end @ ("run.failed" | "run.cancelled") => bail!("{end}: {t}"),
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(Some(receipts))
}

/// Sends the message on A and reads its SSE answer: the reference receipts.
async fn reference_stream(
    conn: &mut Conn,
    auth: &HeaderValue,
    conversation: &str,
    opts: &Options,
) -> anyhow::Result<Receipts> {
    let content = format!(
        "Fan-out [[tokens={} delay_ms={}]]",
        opts.tokens, opts.delay_ms
    );
    let mut req = conn.request(
        Method::POST,
        &format!("/api/v1/chat/{conversation}/messages"),
        Some(auth),
        Some(&json!({"content": content})),
    )?;
    req.headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    let res = conn.send_streaming(req).await?;
    if res.status() != StatusCode::OK {
        bail!("sending the message on A: {}", res.status());
    }
    let mut events = sse::Reader::new(res.into_body());
    let mut receipts = Vec::new();
    let mut tokens = 0;
    let read = async {
        while let Some(e) = events.next().await? {
            match e.event.as_str() {
                "message.delta" => {
                    let v: Value = serde_json::from_str(&e.data)?;
                    receipts.push((v["seq"].as_i64().context("a delta without seq")?, e.at));
                    // A busy writer may merge queued deltas: count the tokens (words).
                    tokens += v["text"]
                        .as_str()
                        .map_or(0, |t| t.split_whitespace().count());
                }
                "run.completed" => return anyhow::Ok(()),
                "run.failed" | "run.cancelled" => bail!("{}: {}", e.event, e.data),
                _ => {}
            }
        }
        bail!("the SSE stream on A ended before run.completed")
    };
    tokio::time::timeout(RUN_TIMEOUT, read)
        .await
        .context("the run on A did not end in time")??;
    if tokens != opts.tokens {
        bail!(
            "A's reader saw {tokens} tokens in {} deltas, expected {}",
            receipts.len(),
            opts.tokens
        );
    }
    Ok(receipts)
}

fn figures(
    reference: &Receipts,
    subscribers: &[Receipts],
    opts: &Options,
    failed: usize,
    first_error: Option<String>,
    open: Duration,
) -> Figures {
    let at_a: HashMap<i64, Instant> = reference.iter().copied().collect();
    let mut first_last: HashMap<i64, (Instant, Instant)> = HashMap::new();
    let mut lag = Vec::with_capacity(subscribers.len() * reference.len());
    let mut received = 0;
    for receipts in subscribers {
        for &(seq, at) in receipts {
            let Some(&reference_at) = at_a.get(&seq) else {
                continue; // not a delta of this run
            };
            received += 1;
            lag.push(signed_us(at, reference_at));
            first_last
                .entry(seq)
                .and_modify(|(lo, hi)| {
                    *lo = (*lo).min(at);
                    *hi = (*hi).max(at);
                })
                .or_insert((at, at));
        }
    }
    let spread = first_last.values().map(|(lo, hi)| *hi - *lo).collect();
    let expected = opts.subscribers.saturating_sub(failed) * reference.len();
    Figures {
        spread: Samples::new(spread),
        lag: Offsets::new(lag),
        deltas: reference.len(),
        missing: expected.saturating_sub(received),
        failed,
        first_error,
        open,
    }
}

pub fn print(f: &Figures, opts: &Options) {
    println!(
        "fan-out: {} WebSocket subscribers on instance B, one {}-token answer ({} ms apart) sent \
         on instance A, Redis bus (opened in {:.2} s)",
        opts.subscribers,
        opts.tokens,
        opts.delay_ms,
        f.open.as_secs_f64()
    );
    println!(
        "  spread, first → last subscriber, per delta   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   ({} deltas)",
        f.spread.p50_ms(),
        f.spread.p99_ms(),
        f.spread.max_ms(),
        f.deltas
    );
    println!(
        "  subscriber on B − SSE reader on A, per delta  p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   ({} receipts, {} missing)",
        f.lag.quantile_ms(0.50),
        f.lag.quantile_ms(0.99),
        f.lag.quantile_ms(1.0),
        f.lag.len(),
        f.missing
    );
    if f.failed > 0 {
        println!(
            "  {} subscribers failed; first error: {}",
            f.failed,
            f.first_error.as_deref().unwrap_or("?")
        );
    }
}
