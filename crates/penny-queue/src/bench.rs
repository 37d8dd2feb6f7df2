//! A benchmark of the queue against a real database: enqueue→start latency of an idle
//! worker, and drain throughput of no-op jobs with the limiter off. Prints figures; the
//! example `bench` and `penny-bench` call [`run`].

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use penny_store::{Store, TenantId, TenantTx};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use crate::{
    counts, enqueue, Job, JobContext, JobFailure, JobHandler, NewJob, QueueConfig, QueueError,
    Worker,
};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Jobs enqueued one at a time, each waited for, for the latency figures.
    pub latency_samples: usize,
    /// Jobs enqueued up front and drained for the throughput figure.
    pub throughput_jobs: usize,
    /// Worker concurrency for the throughput run.
    pub concurrency: usize,
    /// Jobs per enqueuing transaction for the throughput run.
    pub enqueue_batch: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            latency_samples: 500,
            throughput_jobs: 20_000,
            concurrency: 256,
            enqueue_batch: 500,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub latency_samples: usize,
    /// From the enqueuing transaction's COMMIT being sent to the handler starting.
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    pub latency_max: Duration,
    /// From COMMIT acknowledged to the handler starting (0 when it started first).
    pub after_commit_p50: Duration,
    pub after_commit_p99: Duration,
    pub jobs: usize,
    pub enqueue_per_sec: f64,
    /// From the worker's start to the last job's completion committed.
    pub drain: Duration,
    pub jobs_per_sec: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "enqueue→start latency ({} jobs, idle worker): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            self.latency_samples,
            ms(self.latency_p50),
            ms(self.latency_p99),
            ms(self.latency_max)
        )?;
        writeln!(
            f,
            "  from COMMIT acknowledged: p50 {:.2} ms  p99 {:.2} ms",
            ms(self.after_commit_p50),
            ms(self.after_commit_p99)
        )?;
        writeln!(
            f,
            "enqueue: {:.0} jobs/s (durable, batched transactions)",
            self.enqueue_per_sec
        )?;
        write!(
            f,
            "no-op drain ({} jobs, limiter off): {:.2} s → {:.0} jobs/s",
            self.jobs,
            self.drain.as_secs_f64(),
            self.jobs_per_sec
        )
    }
}

struct Signal(mpsc::UnboundedSender<(u64, Instant)>);

#[async_trait]
impl JobHandler for Signal {
    async fn run(&self, job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        let at = Instant::now();
        let i = job.payload["i"].as_u64().unwrap_or(u64::MAX);
        let _ = self.0.send((i, at));
        Ok(Value::Null)
    }
}

struct Count {
    completed: AtomicUsize,
    target: usize,
    all: Notify,
}

#[async_trait]
impl JobHandler for Count {
    async fn run(&self, _job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        Ok(Value::Null)
    }

    async fn commit(&self, _tx: &mut TenantTx, _job: &Job, _out: &Value) -> Result<(), QueueError> {
        // Called once per fenced completion, just before its transaction commits.
        if self.completed.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.all.notify_one();
        }
        Ok(())
    }
}

fn config(queue: &str, concurrency: usize) -> QueueConfig {
    QueueConfig {
        concurrency,
        rate_per_sec: None,
        ..QueueConfig::new(queue)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs both measurements in `tenant` on queues `bench-latency` and `bench-throughput`.
pub async fn run(
    store: &Store,
    tenant: TenantId,
    opts: &BenchOptions,
) -> Result<BenchReport, QueueError> {
    let (stop, shutdown) = watch::channel(false);

    // Latency: one job at a time, so the worker is idle and waiting when it arrives.
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let latency_worker = Worker::spawn(
        store.pool().clone(),
        config("bench-latency", 8),
        Arc::new(Signal(started_tx)),
        shutdown.clone(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut latencies = Vec::with_capacity(opts.latency_samples);
    let mut after_commit = Vec::with_capacity(opts.latency_samples);
    for i in 0..opts.latency_samples as u64 {
        let mut tx = store.tenant(tenant).await?;
        enqueue(
            &mut tx,
            NewJob::new("bench-latency", "noop", json!({ "i": i })),
        )
        .await?;
        let sent = Instant::now();
        tx.commit().await?;
        let acked = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), started.recv()).await {
                Ok(Some((n, at))) if n == i => {
                    latencies.push(at.saturating_duration_since(sent));
                    after_commit.push(at.saturating_duration_since(acked));
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Err(QueueError::Invalid(format!(
                        "bench job {i} did not start within 10 s"
                    )))
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    latencies.sort();
    after_commit.sort();

    // Throughput: enqueue everything, then let one worker drain it.
    let queue = "bench-throughput";
    let t0 = Instant::now();
    let mut left = opts.throughput_jobs;
    while left > 0 {
        let n = left.min(opts.enqueue_batch.max(1));
        let mut tx = store.tenant(tenant).await?;
        for _ in 0..n {
            enqueue(&mut tx, NewJob::new(queue, "noop", Value::Null)).await?;
        }
        tx.commit().await?;
        left -= n;
    }
    let enqueue_time = t0.elapsed();
    let counter = Arc::new(Count {
        completed: AtomicUsize::new(0),
        target: opts.throughput_jobs,
        all: Notify::new(),
    });
    let t1 = Instant::now();
    let drain_worker = Worker::spawn(
        store.pool().clone(),
        config(queue, opts.concurrency),
        counter.clone(),
        shutdown,
    );
    if opts.throughput_jobs > 0 {
        counter.all.notified().await;
    }
    loop {
        let mut tx = store.tenant(tenant).await?;
        let c = counts(&mut tx, queue).await?;
        tx.commit().await?;
        if c.waiting + c.active + c.delayed == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain = t1.elapsed();

    let _ = stop.send(true);
    let _ = latency_worker.await;
    let _ = drain_worker.await;
    let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    Ok(BenchReport {
        latency_samples: latencies.len(),
        latency_p50: percentile(&latencies, 0.50),
        latency_p99: percentile(&latencies, 0.99),
        latency_max: latencies.last().copied().unwrap_or_default(),
        after_commit_p50: percentile(&after_commit, 0.50),
        after_commit_p99: percentile(&after_commit, 0.99),
        jobs: opts.throughput_jobs,
        enqueue_per_sec: per_sec(opts.throughput_jobs, enqueue_time),
        drain,
        jobs_per_sec: per_sec(opts.throughput_jobs, drain),
    })
}
