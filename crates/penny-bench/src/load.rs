//! Closed-loop load: N tasks, each with its own keep-alive connection, send one request,
//! wait for the answer, send the next. Latencies go into an HDR histogram (microseconds);
//! anything but 200, and any transport error, counts as an error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::{HeaderValue, Method, StatusCode};

use crate::client::Conn;

/// One endpoint to load.
pub struct Target {
    pub label: &'static str,
    pub path: &'static str,
    /// Sent as `Authorization` when present.
    pub auth: Option<HeaderValue>,
}

pub struct Settings {
    pub connections: usize,
    /// Requests in this first stretch are sent but not counted.
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one endpoint did in the measured window.
pub struct Outcome {
    pub label: &'static str,
    /// Requests answered in the window (including errors).
    pub requests: u64,
    pub errors: u64,
    pub window: Duration,
    /// Latency of every answered request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The first error seen, to explain a non-zero error count.
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
}

struct Tally {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            // 1 µs .. 60 s, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            requests: 0,
            errors: 0,
            first_error: None,
        })
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

/// Loads `target` on `addr` and returns what the measured window saw.
pub async fn run(addr: SocketAddr, target: &Target, s: &Settings) -> anyhow::Result<Outcome> {
    let count_from = Instant::now() + s.warmup;
    let end = count_from + s.duration;
    let mut tasks = Vec::with_capacity(s.connections);
    for _ in 0..s.connections {
        let path = target.path;
        let auth = target.auth.clone();
        tasks.push(tokio::spawn(async move {
            worker(addr, path, auth, count_from, end).await
        }));
    }
    let mut total = Tally::new()?;
    for t in tasks {
        let part = t.await??;
        total.hist.add(&part.hist)?;
        total.requests += part.requests;
        total.errors += part.errors;
        if total.first_error.is_none() {
            total.first_error = part.first_error;
        }
    }
    Ok(Outcome {
        label: target.label,
        requests: total.requests,
        errors: total.errors,
        window: s.duration,
        latency_us: total.hist,
        first_error: total.first_error,
    })
}

async fn worker(
    addr: SocketAddr,
    path: &'static str,
    auth: Option<HeaderValue>,
    count_from: Instant,
    end: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut conn = Some(Conn::open(addr).await?);
    while Instant::now() < end {
        if conn.is_none() {
            match Conn::open(addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if Instant::now() >= count_from {
                        tally.error(format!("connect: {e:#}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let req = c.request(Method::GET, path, auth.as_ref(), None)?;
        let sent = Instant::now();
        let answer = c.send(req).await;
        let took = sent.elapsed();
        if sent < count_from {
            if answer.is_err() {
                conn = None;
            }
            continue;
        }
        tally.requests += 1;
        match answer {
            Ok((StatusCode::OK, _)) => {
                let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                tally.hist.saturating_record(us.max(1));
            }
            Ok((status, body)) => {
                let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                tally.hist.saturating_record(us.max(1));
                let body = String::from_utf8_lossy(&body);
                tally.error(format!(
                    "{status}: {}",
                    body.chars().take(200).collect::<String>()
                ));
            }
            Err(e) => {
                tally.error(format!("transport: {e:#}"));
                conn = None;
            }
        }
    }
    Ok(tally)
}
