//! Enqueue, claim, complete; transactional enqueue; idempotency; delays; counts; waiting.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use penny_queue::{
    Job, JobContext, JobFailure, JobHandler, JobStatus, NewJob, QueueConfig, QueueError, Waiter,
    READY_CHANNEL,
};
use penny_store::TenantTx;
use serde_json::{json, Value};
use sqlx::postgres::PgListener;

use crate::common::{config, Harness};

/// Echoes the payload, reports progress, and records its effect in the completion.
struct Echo {
    delay: Duration,
}

#[async_trait]
impl JobHandler for Echo {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobFailure> {
        ctx.progress(json!({ "step": 1 }))
            .await
            .map_err(|e| JobFailure::retryable(e.to_string()))?;
        tokio::time::sleep(self.delay).await;
        if job.name == "bad" {
            return Err(JobFailure::permanent("bad job"));
        }
        Ok(json!({ "echo": job.payload, "attempt": ctx.attempt() }))
    }

    async fn commit(
        &self,
        tx: &mut TenantTx,
        job: &Job,
        _output: &Value,
    ) -> Result<(), QueueError> {
        sqlx::query("INSERT INTO effects (job_id, worker) VALUES ($1, 'echo')")
            .bind(job.id.0)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

fn echo() -> Arc<Echo> {
    Arc::new(Echo {
        delay: Duration::ZERO,
    })
}

#[tokio::test]
async fn enqueued_job_runs_once_and_completes_with_its_effect() {
    let h = Harness::new().await;
    h.effects_table().await;
    // A poll far longer than the test: only the NOTIFY at commit can start the job.
    let cfg = QueueConfig {
        poll_interval: Duration::from_secs(600),
        ..config("tools")
    };
    let _w = h.worker(cfg, echo());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let id = h
        .enqueue(NewJob::new("tools", "web_search", json!({ "q": "penny" })))
        .await;
    let job = h.finished(id).await;

    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(
        job.result,
        Some(json!({ "echo": { "q": "penny" }, "attempt": 1 }))
    );
    assert_eq!(job.progress, Some(json!({ "step": 1 })));
    assert_eq!(job.attempts, 1);
    assert_eq!(job.error, None);
    assert!(job.started_at.is_some() && job.finished_at.is_some());
    assert_eq!(h.effects(id).await, vec!["echo".to_string()]);

    let wire = serde_json::to_value(&job).unwrap();
    assert_eq!(wire["status"], "completed");
    assert_eq!(wire["maxAttempts"], 3);
    assert_eq!(wire["timeoutMs"], 60_000);
    assert_eq!(wire["tenantId"], json!(h.tenant.0));
}

#[tokio::test]
async fn rolled_back_enqueue_leaves_no_job_and_wakes_nobody() {
    let h = Harness::new().await;
    let mut listener = PgListener::connect_with(h.store.pool()).await.unwrap();
    listener.listen(READY_CHANNEL).await.unwrap();

    let mut tx = h.store.tenant(h.tenant).await.unwrap();
    let id = penny_queue::enqueue(&mut tx, NewJob::new("tools", "x", json!({})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert!(h.get_as(h.tenant, id).await.is_none());
    assert_eq!(h.counts("tools").await, Default::default());
    let woke = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(woke.is_err(), "a rolled-back enqueue must not notify");

    // The same enqueue, committed, wakes listeners with the queue's name.
    h.enqueue(NewJob::new("tools", "x", json!({}))).await;
    let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("notified at commit")
        .unwrap();
    assert_eq!(n.payload(), "tools");
}

#[tokio::test]
async fn same_idempotency_key_returns_the_existing_job() {
    let h = Harness::new().await;
    let other = h.add_tenant("other").await;
    let keyed = |queue: &str| NewJob {
        idempotency_key: Some("msg-1:call-1".into()),
        ..NewJob::new(queue, "web_search", json!({}))
    };

    let first = h.enqueue(keyed("tools")).await;
    let again = h.enqueue(keyed("tools")).await;
    assert_eq!(first, again);
    assert_eq!(h.counts("tools").await.waiting, 1);

    assert_ne!(h.enqueue(keyed("notifications")).await, first);
    assert_ne!(h.enqueue_as(other, keyed("tools")).await, first);
}

#[tokio::test]
async fn delayed_job_waits_until_its_time() {
    let h = Harness::new().await;
    h.effects_table().await;
    let id = h
        .enqueue(NewJob {
            delay: Some(Duration::from_millis(800)),
            ..NewJob::new("tools", "later", json!({}))
        })
        .await;
    assert_eq!(h.job(id).await.status, JobStatus::Delayed);
    assert_eq!(h.counts("tools").await.delayed, 1);

    let _w = h.worker(config("tools"), echo());
    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    let started = job.started_at.unwrap();
    assert!(job.run_at >= job.created_at + chrono::Duration::milliseconds(790));
    assert!(
        started >= job.run_at,
        "started {started} before run_at {}",
        job.run_at
    );
}

#[tokio::test]
async fn counts_report_each_state() {
    let h = Harness::new().await;
    h.effects_table().await;
    let ok = h.enqueue(NewJob::new("tools", "ok", json!({}))).await;
    let bad = h.enqueue(NewJob::new("tools", "bad", json!({}))).await;
    h.enqueue(NewJob {
        delay: Some(Duration::from_secs(3600)),
        ..NewJob::new("tools", "ok", json!({}))
    })
    .await;
    let c = h.counts("tools").await;
    assert_eq!((c.waiting, c.delayed, c.active), (2, 1, 0));

    let _w = h.worker(
        config("tools"),
        Arc::new(Echo {
            delay: Duration::from_millis(500),
        }),
    );
    h.until(ok, |j| j.status == JobStatus::Active).await;
    assert!(h.counts("tools").await.active >= 1);

    h.finished(ok).await;
    h.finished(bad).await;
    let c = h.counts("tools").await;
    assert_eq!(
        (c.waiting, c.active, c.completed, c.failed, c.delayed),
        (0, 0, 1, 1, 1)
    );
    assert_eq!(h.counts("notifications").await, Default::default());
}

#[tokio::test]
async fn waiter_returns_when_the_job_ends() {
    let h = Harness::new().await;
    h.effects_table().await;
    let waiter = Waiter::start(h.store.pool()).await.unwrap();
    let id = h.enqueue(NewJob::new("tools", "slow", json!({}))).await;
    let _w = h.worker(
        config("tools"),
        Arc::new(Echo {
            delay: Duration::from_millis(300),
        }),
    );

    let job = waiter
        .wait(&h.store, h.tenant, id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert!(job.result.is_some());
}

#[tokio::test]
async fn waiter_gives_up_after_its_timeout_with_the_job_as_it_is() {
    let h = Harness::new().await;
    let waiter = Waiter::start(h.store.pool()).await.unwrap();
    let id = h
        .enqueue(NewJob::new("tools", "nobody-runs-me", json!({})))
        .await;
    let job = waiter
        .wait(&h.store, h.tenant, id, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Waiting);
}

#[tokio::test]
async fn shutdown_lets_the_running_job_finish() {
    let h = Harness::new().await;
    h.effects_table().await;
    let id = h.enqueue(NewJob::new("tools", "slow", json!({}))).await;
    let worker = h.worker(
        config("tools"),
        Arc::new(Echo {
            delay: Duration::from_millis(500),
        }),
    );
    h.until(id, |j| j.status == JobStatus::Active).await;
    h.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("worker stops")
        .unwrap();
    assert_eq!(h.job(id).await.status, JobStatus::Completed);
}

#[tokio::test]
async fn invalid_jobs_are_refused() {
    let h = Harness::new().await;
    let mut tx = h.store.tenant(h.tenant).await.unwrap();
    for job in [
        NewJob::new("", "x", json!({})),
        NewJob::new("tools", "", json!({})),
        NewJob {
            max_attempts: 0,
            ..NewJob::new("tools", "x", json!({}))
        },
        NewJob {
            timeout: Duration::ZERO,
            ..NewJob::new("tools", "x", json!({}))
        },
    ] {
        let err = penny_queue::enqueue(&mut tx, job).await.unwrap_err();
        assert!(matches!(err, QueueError::Invalid(_)), "{err}");
    }
}
