//! Fenced completion: a job's outcome is written only if this worker still holds the
//! job's current lease, in the same transaction as the handler's database effects.
//! Outcomes that arrive together are written in one transaction (group commit); if any
//! part of a batch fails, each outcome is retried in a transaction of its own.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use crate::lease::Claimed;
use crate::worker::{JobFailure, JobHandler};
use crate::{QueueConfig, QueueError};

pub(crate) enum Outcome {
    Done(Value),
    Failed(JobFailure),
}

/// A finished attempt on its way to the database; `reply` says whether it was written
/// (false: the lease was lost, or the database could not be reached).
pub(crate) struct Finished {
    pub claimed: Claimed,
    pub outcome: Outcome,
    pub reply: oneshot::Sender<bool>,
}

pub(crate) struct Completer {
    pub pool: PgPool,
    pub handler: Arc<dyn JobHandler>,
    pub config: Arc<QueueConfig>,
    /// Jobs that ended (completed or failed for good); retention runs when it moved.
    pub ended: Arc<AtomicU64>,
}

/// Completion transactions in flight at once: while one waits for its commit to be
/// flushed, the next batch is being written.
const WRITERS: usize = 2;

impl Completer {
    pub(crate) fn spawn(self, rx: mpsc::Receiver<Finished>) -> Vec<JoinHandle<()>> {
        let this = Arc::new(self);
        let rx = Arc::new(Mutex::new(rx));
        (0..WRITERS)
            .map(|_| tokio::spawn(this.clone().run(rx.clone()).in_current_span()))
            .collect()
    }

    async fn run(self: Arc<Self>, rx: Arc<Mutex<mpsc::Receiver<Finished>>>) {
        let max = self.config.completion_batch.max(1);
        loop {
            let batch = {
                let mut rx = rx.lock().await;
                let Some(first) = rx.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                batch
            };
            self.finish(batch).await;
        }
    }

    async fn finish(&self, batch: Vec<Finished>) {
        let items: Vec<(&Claimed, &Outcome)> =
            batch.iter().map(|f| (&f.claimed, &f.outcome)).collect();
        let written = match self.write(&items).await {
            Ok(written) => written,
            Err(err) => {
                if batch.len() > 1 {
                    tracing::warn!(error = %err, size = batch.len(), "completion batch failed; writing one by one");
                }
                let mut written = Vec::with_capacity(batch.len());
                for item in &items {
                    written.push(self.finish_one(item.0, item.1).await);
                }
                written
            }
        };
        for (f, ok) in batch.into_iter().zip(written) {
            if !ok {
                tracing::warn!(job_id = %f.claimed.job.id, "outcome not written: the lease was lost or the database failed");
            } else if matches!(f.outcome, Outcome::Done(_)) {
                self.handler.committed(&f.claimed.job).await;
            }
            let _ = f.reply.send(ok);
        }
    }

    /// One outcome in its own transaction. A commit hook that fails turns the success
    /// into a retryable failure.
    async fn finish_one(&self, claimed: &Claimed, outcome: &Outcome) -> bool {
        match self.write(&[(claimed, outcome)]).await {
            Ok(written) => written.first().copied().unwrap_or(false),
            Err(err) => {
                tracing::warn!(job_id = %claimed.job.id, error = %err, "writing the job's outcome failed");
                if !matches!(outcome, Outcome::Done(_)) {
                    return false;
                }
                let failed =
                    Outcome::Failed(JobFailure::retryable(format!("commit failed: {err}")));
                match self.write(&[(claimed, &failed)]).await {
                    Ok(written) => written.first().copied().unwrap_or(false),
                    Err(err) => {
                        tracing::warn!(job_id = %claimed.job.id, error = %err, "recording the failure failed");
                        false
                    }
                }
            }
        }
    }

    /// Writes `items` in one transaction; for each, whether its lease still held.
    async fn write(&self, items: &[(&Claimed, &Outcome)]) -> Result<Vec<bool>, QueueError> {
        let mut by_tenant: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
        for (i, (claimed, _)) in items.iter().enumerate() {
            by_tenant
                .entry(claimed.job.tenant_id.0)
                .or_default()
                .push(i);
        }
        let mut written = vec![false; items.len()];
        let mut ended = 0u64;
        let mut tx = self.pool.begin().await?;
        for (tenant, idx) in by_tenant {
            penny_store::scope_to(&mut tx, penny_store::TenantId(tenant)).await?;
            let done: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&i| matches!(items[i].1, Outcome::Done(_)))
                .collect();
            let failed: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&i| matches!(items[i].1, Outcome::Failed(_)))
                .collect();
            if !done.is_empty() {
                let held: HashSet<Uuid> =
                    complete(&mut tx, items, &done).await?.into_iter().collect();
                for i in done
                    .into_iter()
                    .filter(|&i| held.contains(&items[i].0.job.id.0))
                {
                    let (claimed, outcome) = items[i];
                    if let Outcome::Done(output) = outcome {
                        self.handler.commit(&mut tx, &claimed.job, output).await?;
                    }
                    written[i] = true;
                    ended += 1;
                }
            }
            if !failed.is_empty() {
                let held: HashSet<Uuid> = self
                    .fail(&mut tx, items, &failed)
                    .await?
                    .into_iter()
                    .collect();
                for i in failed
                    .into_iter()
                    .filter(|&i| held.contains(&items[i].0.job.id.0))
                {
                    written[i] = true;
                    ended += 1;
                }
            }
            // Jobs that ended for good count in the day's rollup, in this transaction
            // (those that will be retried are left out by the rollup itself).
            let outcomes: Vec<Uuid> = idx
                .iter()
                .filter(|&&i| written[i])
                .map(|&i| items[i].0.job.id.0)
                .collect();
            penny_store::analytics::record_jobs(&mut tx, &outcomes).await?;
        }
        tx.commit().await?;
        self.ended.fetch_add(ended, Ordering::Relaxed);
        Ok(written)
    }

    async fn fail(
        &self,
        tx: &mut penny_store::TenantTx,
        items: &[(&Claimed, &Outcome)],
        idx: &[usize],
    ) -> Result<Vec<Uuid>, QueueError> {
        let mut ids = Vec::with_capacity(idx.len());
        let mut tokens = Vec::with_capacity(idx.len());
        let mut statuses = Vec::with_capacity(idx.len());
        let mut errors = Vec::with_capacity(idx.len());
        let mut delays = Vec::with_capacity(idx.len());
        for &i in idx {
            let (claimed, outcome) = items[i];
            let Outcome::Failed(failure) = outcome else {
                continue;
            };
            let job = &claimed.job;
            let retry = failure.retryable && job.attempts < job.max_attempts;
            let delay = if retry {
                self.config.backoff(job.attempts)
            } else {
                Default::default()
            };
            let status = match (retry, delay.is_zero()) {
                (false, _) => "failed",
                (true, true) => "waiting",
                (true, false) => "delayed",
            };
            ids.push(job.id.0);
            tokens.push(claimed.token);
            statuses.push(status);
            errors.push(failure.message.clone());
            delays.push(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        }
        Ok(sqlx::query_scalar(
            "UPDATE jobs j
                SET status = u.status, error = u.error,
                    run_at = CASE WHEN u.status = 'failed' THEN j.run_at
                                  ELSE now() + u.delay_ms * interval '1 millisecond' END,
                    finished_at = CASE WHEN u.status = 'failed' THEN now() END,
                    lease_token = NULL, lease_expires_at = NULL
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[])
                    AS u(id, token, status, error, delay_ms)
              WHERE j.id = u.id AND j.lease_token = u.token AND j.status = 'active'
          RETURNING j.id",
        )
        .bind(ids)
        .bind(tokens)
        .bind(statuses)
        .bind(errors)
        .bind(delays)
        .fetch_all(&mut **tx)
        .await?)
    }
}

/// The fenced update of successful attempts; returns the ids whose lease still held.
async fn complete(
    tx: &mut penny_store::TenantTx,
    items: &[(&Claimed, &Outcome)],
    idx: &[usize],
) -> Result<Vec<Uuid>, QueueError> {
    let mut ids = Vec::with_capacity(idx.len());
    let mut tokens = Vec::with_capacity(idx.len());
    let mut results = Vec::with_capacity(idx.len());
    for &i in idx {
        let (claimed, outcome) = items[i];
        if let Outcome::Done(output) = outcome {
            ids.push(claimed.job.id.0);
            tokens.push(claimed.token);
            results.push(output.to_string());
        }
    }
    Ok(sqlx::query_scalar(
        "UPDATE jobs j
            SET status = 'completed', result = u.result::jsonb, error = NULL,
                finished_at = now(), lease_token = NULL, lease_expires_at = NULL
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(id, token, result)
          WHERE j.id = u.id AND j.lease_token = u.token AND j.status = 'active'
      RETURNING j.id",
    )
    .bind(ids)
    .bind(tokens)
    .bind(results)
    .fetch_all(&mut **tx)
    .await?)
}
