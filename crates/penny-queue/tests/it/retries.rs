//! Failed attempts: retries with exponential backoff, permanent failures, timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use penny_queue::{Job, JobContext, JobFailure, JobHandler, JobStatus, NewJob, QueueConfig};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::common::{config, Harness};

/// Fails the first `failures` attempts (retryable or not), then succeeds; records when
/// each attempt started.
struct Flaky {
    failures: i32,
    retryable: bool,
    starts: Mutex<Vec<Instant>>,
}

impl Flaky {
    fn new(failures: i32, retryable: bool) -> Arc<Self> {
        Arc::new(Self {
            failures,
            retryable,
            starts: Mutex::default(),
        })
    }

    fn starts(&self) -> Vec<Instant> {
        self.starts.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> Result<Value, JobFailure> {
        self.starts.lock().unwrap().push(Instant::now());
        if ctx.attempt() <= self.failures {
            let message = format!("attempt {} failed", ctx.attempt());
            return Err(JobFailure {
                message,
                retryable: self.retryable,
            });
        }
        Ok(json!("ok"))
    }
}

#[tokio::test]
async fn retryable_failure_is_retried_with_doubling_backoff_then_fails() {
    let h = Harness::new().await;
    let handler = Flaky::new(i32::MAX, true);
    let cfg = QueueConfig {
        backoff_base: Duration::from_millis(200),
        ..config("tools")
    };
    let _w = h.worker(cfg, handler.clone());
    let id = h.enqueue(NewJob::new("tools", "flaky", json!({}))).await;

    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 3);
    assert_eq!(job.error.as_deref(), Some("attempt 3 failed"));
    assert!(job.finished_at.is_some());

    let starts = handler.starts();
    assert_eq!(starts.len(), 3);
    // Lower bounds only: a busy machine may take longer, never shorter.
    assert!(starts[1] - starts[0] >= Duration::from_millis(190));
    assert!(starts[2] - starts[1] >= Duration::from_millis(390));
}

#[tokio::test]
async fn job_that_fails_once_completes_on_retry() {
    let h = Harness::new().await;
    let _w = h.worker(config("tools"), Flaky::new(1, true));
    let id = h.enqueue(NewJob::new("tools", "flaky", json!({}))).await;

    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.error, None);
    assert_eq!(job.result, Some(json!("ok")));
}

#[tokio::test]
async fn permanent_failure_is_not_retried() {
    let h = Harness::new().await;
    let handler = Flaky::new(i32::MAX, false);
    let _w = h.worker(config("tools"), handler.clone());
    let id = h.enqueue(NewJob::new("tools", "broken", json!({}))).await;

    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 1);
    assert_eq!(handler.starts().len(), 1);
}

struct Sleepy;

#[async_trait]
impl JobHandler for Sleepy {
    async fn run(&self, _job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        tokio::time::sleep(Duration::from_secs(600)).await;
        Ok(Value::Null)
    }
}

#[tokio::test]
async fn job_that_exceeds_its_timeout_fails_after_its_attempts() {
    let h = Harness::new().await;
    let _w = h.worker(config("tools"), Arc::new(Sleepy));
    let id = h
        .enqueue(NewJob {
            timeout: Duration::from_millis(200),
            max_attempts: 2,
            ..NewJob::new("tools", "sleepy", json!({}))
        })
        .await;

    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 2);
    assert!(job.error.unwrap_or_default().contains("timed out"));
}

struct Panics;

#[async_trait]
impl JobHandler for Panics {
    async fn run(&self, _job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        panic!("handler bug");
    }
}

#[tokio::test]
async fn panicking_handler_fails_the_attempt_not_the_worker() {
    let h = Harness::new().await;
    let _w = h.worker(config("tools"), Arc::new(Panics));
    let first = h
        .enqueue(NewJob {
            max_attempts: 1,
            ..NewJob::new("tools", "panics", json!({}))
        })
        .await;
    let job = h.finished(first).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.error.unwrap_or_default().contains("panicked"));

    // The worker is still serving the queue.
    let second = h
        .enqueue(NewJob {
            max_attempts: 1,
            ..NewJob::new("tools", "panics", json!({}))
        })
        .await;
    assert_eq!(h.finished(second).await.status, JobStatus::Failed);
}
