//! The global rate limiter, retention, and the configuration's defaults.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use penny_queue::{Job, JobContext, JobFailure, JobHandler, NewJob, QueueConfig};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::common::{config, Harness};

#[derive(Default)]
struct Counter(AtomicUsize);

#[async_trait]
impl JobHandler for Counter {
    async fn run(&self, job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if job.name == "bad" {
            return Err(JobFailure::permanent("bad"));
        }
        Ok(Value::Null)
    }
}

#[tokio::test]
async fn rate_limit_holds_across_two_workers() {
    let h = Harness::new().await;
    let mut tx = h.store.tenant(h.tenant).await.unwrap();
    for _ in 0..200 {
        penny_queue::enqueue(&mut tx, NewJob::new("notifications", "n", json!({})))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let counter = Arc::new(Counter::default());
    let limited = QueueConfig {
        rate_per_sec: Some(10.0),
        ..config("notifications")
    };
    let t0 = Instant::now();
    let _a = h.worker(limited.clone(), counter.clone());
    let _b = h.worker(limited, counter.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ran = counter.0.load(Ordering::SeqCst);
    let window = t0.elapsed().as_secs_f64();

    // A full bucket (10) plus 10/s; without the limiter 200 jobs would be done by now.
    let most = 10.0 + 10.0 * window + 5.0;
    assert!(
        (ran as f64) <= most,
        "{ran} jobs in {window:.1} s (limit {most:.0})"
    );
    assert!(ran >= 12, "only {ran} jobs in {window:.1} s");
}

#[tokio::test]
async fn retention_keeps_the_newest_completed_and_failed_per_tenant() {
    let h = Harness::new().await;
    let other = h.add_tenant("other").await;
    let counter = Arc::new(Counter::default());
    let cfg = QueueConfig {
        keep_completed: 3,
        keep_failed: 2,
        ..config("tools")
    };
    let _w = h.worker(cfg, counter.clone());
    for i in 0..10 {
        let name = if i % 2 == 0 { "ok" } else { "bad" };
        h.enqueue(NewJob::new("tools", name, json!({ "i": i })))
            .await;
    }
    h.enqueue_as(other, NewJob::new("tools", "ok", json!({})))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = h.counts("tools").await;
        let o = h.counts_as(other, "tools").await;
        if counter.0.load(Ordering::SeqCst) == 11
            && c.waiting + c.active + c.delayed + o.waiting + o.active + o.delayed == 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "jobs did not finish: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    penny_queue::prune(h.store.pool(), "tools", 3, 2)
        .await
        .unwrap();

    let c = h.counts("tools").await;
    assert_eq!((c.completed, c.failed), (3, 2));
    assert_eq!(h.counts_as(other, "tools").await.completed, 1);
}

#[test]
fn defaults_match_the_original_queue() {
    let cfg = QueueConfig::new("tools");
    assert_eq!(cfg.concurrency, 5);
    assert_eq!(cfg.rate_per_sec, Some(10.0));
    assert_eq!((cfg.keep_completed, cfg.keep_failed), (100, 1000));
    assert_eq!(cfg.backoff(1), Duration::from_secs(1));
    assert_eq!(cfg.backoff(2), Duration::from_secs(2));
    assert_eq!(cfg.backoff(3), Duration::from_secs(4));
    assert_eq!(cfg.backoff(40), cfg.backoff_max);
    assert_eq!(cfg.poll_interval, Duration::from_secs(1));
    let job = NewJob::new("tools", "x", json!({}));
    assert_eq!(job.max_attempts, 3);
}
