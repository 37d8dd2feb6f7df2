//! The worker: claims jobs of one queue (woken by `penny_job_ready`, with a slow fallback
//! poll), runs each under a per-job timeout while a heartbeat renews the leases, hands
//! outcomes to the fenced completer, reaps dead workers' jobs and prunes old ones.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use penny_store::{TenantId, TenantTx};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;
use uuid::Uuid;

use crate::complete::{Completer, Finished, Outcome};
use crate::lease::{self, Claimed};
use crate::{Job, JobId, QueueConfig, QueueError};

/// Channel on which the database announces claimable jobs (payload: the queue's name).
pub const READY_CHANNEL: &str = "penny_job_ready";

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub message: String,
    /// Retried with backoff while attempts remain; otherwise the job fails at once.
    pub retryable: bool,
}

impl JobFailure {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// What a queue's jobs do.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the work. `Err` with `retryable` → retried with backoff while attempts
    /// remain, else the job fails. It may run more than once for one job (retries, a
    /// worker that died), so effects outside the database should be idempotent.
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobFailure>;

    /// Writes the job's database effects in the transaction that marks it completed,
    /// scoped to the job's tenant. It runs only while this worker holds the job's lease,
    /// so the effects are written once however often `run` ran. An error rolls them back
    /// and counts as a retryable failure.
    async fn commit(&self, tx: &mut TenantTx, job: &Job, output: &Value) -> Result<(), QueueError> {
        let _ = (tx, job, output);
        Ok(())
    }

    /// Called after the transaction that ran `commit` has committed (e.g. to announce
    /// what it wrote). Default: nothing.
    async fn committed(&self, job: &Job) {
        let _ = job;
    }
}

/// What a running attempt knows about itself.
#[derive(Clone)]
pub struct JobContext {
    pool: PgPool,
    tenant: TenantId,
    job_id: JobId,
    attempt: i32,
    token: Uuid,
}

impl JobContext {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn job_id(&self) -> JobId {
        self.job_id
    }

    /// 1 for the first attempt.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    /// Stores the job's progress; `LeaseLost` when another worker holds the job now.
    pub async fn progress(&self, progress: Value) -> Result<(), QueueError> {
        let mut tx = crate::tenant_tx(&self.pool, self.tenant).await?;
        let updated = sqlx::query(
            "UPDATE jobs SET progress = $1 WHERE id = $2 AND lease_token = $3 AND status = 'active'",
        )
        .bind(progress)
        .bind(self.job_id.0)
        .bind(self.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if updated == 0 {
            return Err(QueueError::LeaseLost);
        }
        Ok(())
    }
}

/// Leases this worker holds: lease token → (job id, the attempt's task).
type Held = Arc<Mutex<HashMap<Uuid, (Uuid, AbortHandle)>>>;

fn lock(held: &Held) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Uuid, AbortHandle)>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Worker;

impl Worker {
    /// Serves `config.queue` until `shutdown` turns true (or its sender is dropped): then
    /// stops claiming, waits up to `shutdown_grace` for running jobs and returns. Jobs
    /// still running then are abandoned; their leases expire and they run again.
    pub fn spawn(
        pool: PgPool,
        config: QueueConfig,
        handler: Arc<dyn JobHandler>,
        shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let span = tracing::info_span!("queue_worker", queue = %config.queue);
        tokio::spawn(run(pool, Arc::new(config), handler, shutdown).instrument(span))
    }
}

async fn run(
    pool: PgPool,
    config: Arc<QueueConfig>,
    handler: Arc<dyn JobHandler>,
    mut shutdown: watch::Receiver<bool>,
) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(
        listen_ready(pool.clone(), config.queue.clone(), wake.clone()).in_current_span(),
    );
    let ended = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = mpsc::channel(config.completion_batch.max(1) * 2);
    let completer = Completer {
        pool: pool.clone(),
        handler: handler.clone(),
        config: config.clone(),
        ended: ended.clone(),
    };
    let completer = completer.spawn(done_rx);
    let held: Held = Arc::default();
    let heartbeat =
        tokio::spawn(heartbeat(pool.clone(), config.clone(), held.clone()).in_current_span());

    let concurrency = config.concurrency.max(1);
    let mut running = JoinSet::new();
    let mut maybe_more = true;
    let mut not_before: Option<Instant> = None;
    let mut tick = tokio::time::interval(config.poll_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pruned_at = 0u64;

    loop {
        if *shutdown.borrow() {
            break;
        }
        // Claiming in quarters keeps claims, runs and completions overlapping instead of
        // the whole worker moving in lock-step.
        let free = concurrency
            .saturating_sub(running.len())
            .min(concurrency.div_ceil(4));
        let held_back = not_before.is_some_and(|t| Instant::now() < t);
        if maybe_more && free > 0 && !held_back {
            match lease::claim(
                &pool,
                &config.queue,
                free,
                config.lease,
                config.rate_per_sec,
                config.per_tenant,
            )
            .await
            {
                Ok(claim) => {
                    maybe_more = claim.jobs.len() == free;
                    if let Some(wait) = claim.throttled_for {
                        not_before = Some(Instant::now() + wait);
                        maybe_more = true;
                    }
                    for claimed in claim.jobs {
                        start(&mut running, claimed, &pool, &handler, &held, &done_tx);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "claiming jobs failed");
                    not_before = Some(Instant::now() + config.poll_interval);
                }
            }
            continue;
        }
        let until = not_before.unwrap_or_else(Instant::now);
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(_) = running.join_next(), if !running.is_empty() => {
                // Collect every slot that has freed, so one claim fills them all.
                while running.try_join_next().is_some() {}
            }
            _ = wake.notified() => maybe_more = true,
            _ = tokio::time::sleep_until(until), if held_back => {
                not_before = None;
                maybe_more = true;
            }
            _ = tick.tick() => {
                maybe_more = true;
                maintain(&pool, &config, &ended, &mut pruned_at).await;
            }
        }
    }

    tracing::info!(running = running.len(), "worker stopping");
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = running.len(),
            "shutdown grace ran out; abandoning running jobs to lease expiry"
        );
        for (_, (_, attempt)) in lock(&held).drain() {
            attempt.abort();
        }
        running.abort_all();
    }
    drop(done_tx);
    for task in completer {
        let _ = task.await;
    }
    heartbeat.abort();
    listener.abort();
}

/// Runs one claimed attempt: the handler in a task of its own (so a panic or a lost lease
/// ends only it) under the job's timeout, then the outcome goes to the completer.
fn start(
    running: &mut JoinSet<()>,
    claimed: Claimed,
    pool: &PgPool,
    handler: &Arc<dyn JobHandler>,
    held: &Held,
    done: &mpsc::Sender<Finished>,
) {
    let job = claimed.job.clone();
    let span = tracing::info_span!("job", job_id = %job.id, tenant_id = %job.tenant_id, name = %job.name, attempt = job.attempts);
    let ctx = JobContext {
        pool: pool.clone(),
        tenant: job.tenant_id,
        job_id: job.id,
        attempt: job.attempts,
        token: claimed.token,
    };
    let handler = handler.clone();
    let mut attempt =
        tokio::spawn(async move { handler.run(&job, &ctx).await }.instrument(span.clone()));
    let token = claimed.token;
    lock(held).insert(token, (claimed.job.id.0, attempt.abort_handle()));
    let (held, done) = (held.clone(), done.clone());
    running.spawn(
        async move {
            let limit = claimed.job.timeout;
            let outcome = match tokio::time::timeout(limit, &mut attempt).await {
                Ok(Ok(Ok(output))) => Outcome::Done(output),
                Ok(Ok(Err(failure))) => Outcome::Failed(failure),
                Ok(Err(e)) if e.is_cancelled() => {
                    // The heartbeat found the lease taken over: nothing of ours to write.
                    lock(&held).remove(&token);
                    return;
                }
                Ok(Err(_)) => Outcome::Failed(JobFailure::retryable("the job handler panicked")),
                Err(_) => {
                    attempt.abort();
                    Outcome::Failed(JobFailure::retryable(format!(
                        "timed out after {} ms",
                        limit.as_millis()
                    )))
                }
            };
            if let Outcome::Failed(f) = &outcome {
                tracing::info!(error = %f.message, retryable = f.retryable, "attempt failed");
            }
            let (reply, written) = oneshot::channel();
            let finished = Finished {
                claimed,
                outcome,
                reply,
            };
            if done.send(finished).await.is_ok() {
                let _ = written.await;
            }
            lock(&held).remove(&token);
        }
        .instrument(span),
    );
}

/// Renews held leases every third of the lease; stops attempts whose lease was lost.
async fn heartbeat(pool: PgPool, config: Arc<QueueConfig>, held: Held) {
    let mut every = tokio::time::interval((config.lease / 3).max(Duration::from_millis(10)));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let snapshot: Vec<(Uuid, Uuid)> = lock(&held)
            .iter()
            .map(|(token, (id, _))| (*id, *token))
            .collect();
        if snapshot.is_empty() {
            continue;
        }
        match lease::heartbeat(&pool, &snapshot, config.lease).await {
            Ok(kept) => {
                let kept: HashSet<Uuid> = kept.into_iter().collect();
                let mut held = lock(&held);
                for (id, token) in snapshot.iter().filter(|(_, t)| !kept.contains(t)) {
                    if let Some((_, attempt)) = held.remove(token) {
                        tracing::warn!(job_id = %id, "lease lost; stopping the attempt");
                        attempt.abort();
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "renewing leases failed"),
        }
    }
}

/// On the poll tick: take back jobs of dead workers, and apply retention when jobs ended.
async fn maintain(pool: &PgPool, config: &QueueConfig, ended: &AtomicU64, pruned_at: &mut u64) {
    match lease::reap(pool, &config.queue).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(jobs = n, "took back jobs whose lease expired"),
        Err(err) => tracing::warn!(error = %err, "reaping expired leases failed"),
    }
    let now = ended.load(Ordering::Relaxed);
    if now != *pruned_at {
        match lease::prune(
            pool,
            &config.queue,
            config.keep_completed,
            config.keep_failed,
        )
        .await
        {
            Ok(_) => *pruned_at = now,
            Err(err) => tracing::warn!(error = %err, "pruning old jobs failed"),
        }
    }
}

/// Wakes the worker loop when the queue has claimable jobs. On a lost connection the
/// listener reconnects; notifications missed meanwhile are covered by the poll.
async fn listen_ready(pool: PgPool, queue: String, wake: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(err) => {
                tracing::warn!(error = %err, "connecting the job listener failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(READY_CHANNEL).await {
            tracing::warn!(error = %err, "LISTEN failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Jobs may have arrived while we were not listening.
        wake.notify_one();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.payload() == queue => wake.notify_one(),
                Ok(Some(_)) => {}
                Ok(None) => wake.notify_one(),
                Err(err) => {
                    tracing::warn!(error = %err, "job listener failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
