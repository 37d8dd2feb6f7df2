//! Awaiting a job's end: one `LISTEN penny_job_done` connection per process fans the
//! database's notifications out to the tasks waiting on those job ids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use penny_store::{Store, TenantId};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::{Job, JobId, QueueError};

/// Channel on which the database announces a job that ended (payload: its id).
pub const DONE_CHANNEL: &str = "penny_job_done";

/// A re-read even without a notification, should one be lost.
const RECHECK: Duration = Duration::from_secs(2);

type Waiting = Mutex<HashMap<Uuid, Vec<oneshot::Sender<()>>>>;

/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Waiter {
    inner: Arc<Inner>,
}

struct Inner {
    waiting: Waiting,
    listener: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn lock(waiting: &Waiting) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<oneshot::Sender<()>>>> {
    waiting
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Waiter {
    /// Connects and starts listening before it returns, so no wake-up after this is lost.
    pub async fn start(pool: &PgPool) -> Result<Waiter, QueueError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(DONE_CHANNEL).await?;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            waiting: Mutex::default(),
            listener: tokio::spawn(listen(listener, weak.clone())),
        });
        Ok(Waiter { inner })
    }

    /// Waits until job `id` of `tenant` is completed or failed, then returns it as stored.
    /// After `timeout` returns the job as it is then (check `job.status.is_finished()`).
    pub async fn wait(
        &self,
        store: &Store,
        tenant: TenantId,
        id: JobId,
        timeout: Duration,
    ) -> Result<Job, QueueError> {
        let deadline = Instant::now() + timeout;
        loop {
            // Declared first so it drops last, after `rx`, and finds our sender closed.
            let _unsubscribe = Unsubscribe {
                waiting: &self.inner.waiting,
                id: id.0,
            };
            // Subscribe before reading: a job that ends after the read wakes us.
            let (tx, rx) = oneshot::channel();
            lock(&self.inner.waiting).entry(id.0).or_default().push(tx);
            let mut read = store.tenant(tenant).await?;
            let job = crate::get(&mut read, id).await?;
            read.commit().await?;
            let job = job.ok_or(QueueError::NotFound)?;
            if job.status.is_finished() || Instant::now() >= deadline {
                return Ok(job);
            }
            let _ = tokio::time::timeout_at(deadline.min(Instant::now() + RECHECK), rx).await;
        }
    }
}

/// Drops a waiter's closed subscriptions when it stops waiting.
struct Unsubscribe<'a> {
    waiting: &'a Waiting,
    id: Uuid,
}

impl Drop for Unsubscribe<'_> {
    fn drop(&mut self) {
        let mut waiting = lock(self.waiting);
        if let Some(senders) = waiting.get_mut(&self.id) {
            senders.retain(|s| !s.is_closed());
            if senders.is_empty() {
                waiting.remove(&self.id);
            }
        }
    }
}

async fn listen(mut listener: PgListener, inner: Weak<Inner>) {
    loop {
        let received = listener.try_recv().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match received {
            Ok(Some(n)) => {
                let Ok(id) = Uuid::parse_str(n.payload()) else {
                    continue;
                };
                let senders = lock(&inner.waiting).remove(&id);
                for s in senders.into_iter().flatten() {
                    let _ = s.send(());
                }
            }
            // The connection dropped (sqlx reconnects and listens again on the next call):
            // anything may have ended meanwhile, so every waiter re-reads.
            Ok(None) | Err(_) => {
                if let Err(err) = &received {
                    tracing::warn!(error = %err, "job-done listener failed");
                }
                let all: Vec<_> = lock(&inner.waiting).drain().collect();
                for s in all.into_iter().flat_map(|(_, v)| v) {
                    let _ = s.send(());
                }
                if received.is_err() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
