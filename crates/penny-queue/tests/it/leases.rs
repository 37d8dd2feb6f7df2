//! A worker that dies or stalls mid-job: its lease expires, another worker runs the job,
//! and the job's effect is written exactly once.

use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use penny_queue::{
    Job, JobContext, JobFailure, JobHandler, JobStatus, NewJob, QueueConfig, QueueError, Worker,
};
use penny_store::{Store, TenantTx};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::common::{config, Harness};

/// Announces each start; `hold` decides how the attempt then behaves.
struct Recorder {
    worker: &'static str,
    started: Mutex<std_mpsc::Sender<i32>>,
    hold: Hold,
}

enum Hold {
    /// Returns at once.
    No,
    /// Never returns (the worker is killed meanwhile).
    Forever,
    /// Blocks the thread, and with it the worker's whole runtime (heartbeat included),
    /// until released: a stalled process.
    Stall(Mutex<std_mpsc::Receiver<()>>),
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> Result<Value, JobFailure> {
        let _ = self.started.lock().unwrap().send(ctx.attempt());
        match &self.hold {
            Hold::No => {}
            Hold::Forever => std::future::pending::<()>().await,
            Hold::Stall(release) => {
                let _ = release.lock().unwrap().recv();
            }
        }
        Ok(json!({ "by": self.worker }))
    }

    async fn commit(
        &self,
        tx: &mut TenantTx,
        job: &Job,
        _output: &Value,
    ) -> Result<(), QueueError> {
        sqlx::query("INSERT INTO effects (job_id, worker) VALUES ($1, $2)")
            .bind(job.id.0)
            .bind(self.worker)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// Runs worker "A" on a runtime of its own thread, so the test can kill or stall it.
/// Returns a sender that stops it: `true` = graceful stop, drop = kill the runtime.
fn worker_a_on_its_own_runtime(
    h: &Harness,
    cfg: QueueConfig,
    handler: Arc<Recorder>,
) -> (std_mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let opts = h.db.options();
    let (kill, killed) = std_mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (_stop, shutdown) = watch::channel(false);
        rt.block_on(async move {
            let store = Store::connect(opts, 4).await.unwrap();
            let _worker = Worker::spawn(store.pool().clone(), cfg, handler, shutdown);
            // Park until told to die, yielding so the worker runs.
            while matches!(killed.try_recv(), Err(std_mpsc::TryRecvError::Empty)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        // The process dies: tasks are dropped mid-job, connections close.
        rt.shutdown_background();
    });
    (kill, thread)
}

fn recorder(worker: &'static str, hold: Hold) -> (Arc<Recorder>, std_mpsc::Receiver<i32>) {
    let (started, starts) = std_mpsc::channel();
    let r = Arc::new(Recorder {
        worker,
        started: Mutex::new(started),
        hold,
    });
    (r, starts)
}

fn lease_of(ms: u64) -> QueueConfig {
    QueueConfig {
        lease: Duration::from_millis(ms),
        ..config("tools")
    }
}

#[tokio::test]
async fn job_of_a_killed_worker_is_retried_and_takes_effect_once() {
    let h = Harness::new().await;
    h.effects_table().await;
    let (a, a_starts) = recorder("A", Hold::Forever);
    let (kill_a, a_thread) = worker_a_on_its_own_runtime(&h, lease_of(1000), a);

    let id = h.enqueue(NewJob::new("tools", "tool", json!({}))).await;
    let attempt =
        tokio::task::spawn_blocking(move || a_starts.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("A started the job");
    assert_eq!(attempt, 1);
    drop(kill_a);
    a_thread.join().unwrap();
    assert_eq!(h.job(id).await.status, JobStatus::Active);

    let (b, _b_starts) = recorder("B", Hold::No);
    let _b = h.worker(lease_of(1000), b);
    let job = h.finished(id).await;

    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.attempts, 2, "the dead worker's attempt counts");
    assert_eq!(job.result, Some(json!({ "by": "B" })));
    assert_eq!(h.effects(id).await, vec!["B".to_string()]);
}

#[tokio::test]
async fn stalled_worker_cannot_complete_a_job_taken_over() {
    let h = Harness::new().await;
    h.effects_table().await;
    let (release_a, released) = std_mpsc::channel();
    let (a, a_starts) = recorder("A", Hold::Stall(Mutex::new(released)));
    let (stop_a, a_thread) = worker_a_on_its_own_runtime(&h, lease_of(600), a);

    let id = h.enqueue(NewJob::new("tools", "tool", json!({}))).await;
    let a_starts = tokio::task::spawn_blocking(move || {
        let attempt = a_starts.recv_timeout(Duration::from_secs(30));
        (attempt, a_starts)
    });
    let (attempt, a_starts) = a_starts.await.unwrap();
    assert_eq!(attempt.expect("A started the job"), 1);

    // A is frozen (no heartbeat): its lease expires and B takes the job over.
    let (b, _b_starts) = recorder("B", Hold::No);
    let _b = h.worker(lease_of(600), b);
    let job = h.finished(id).await;
    assert_eq!(job.result, Some(json!({ "by": "B" })));

    // A wakes up and tries to complete its stale attempt: refused, no effect.
    release_a.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let job = h.job(id).await;
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.result, Some(json!({ "by": "B" })));
    assert_eq!(h.effects(id).await, vec!["B".to_string()]);
    assert!(a_starts.try_recv().is_err(), "A never ran the job again");

    drop(stop_a);
    a_thread.join().unwrap();
}

#[tokio::test]
async fn job_whose_worker_keeps_dying_fails_when_attempts_run_out() {
    let h = Harness::new().await;
    h.effects_table().await;
    let id = h
        .enqueue(NewJob {
            max_attempts: 1,
            ..NewJob::new("tools", "tool", json!({}))
        })
        .await;
    let (a, a_starts) = recorder("A", Hold::Forever);
    let (kill_a, a_thread) = worker_a_on_its_own_runtime(&h, lease_of(500), a);
    tokio::task::spawn_blocking(move || a_starts.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("A started the job");
    drop(kill_a);
    a_thread.join().unwrap();

    let (b, b_starts) = recorder("B", Hold::No);
    let _b = h.worker(lease_of(500), b);
    let job = h.finished(id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.error.unwrap_or_default().contains("lease expired"));
    assert!(b_starts.try_recv().is_err());
    assert!(h.effects(id).await.is_empty());
}
