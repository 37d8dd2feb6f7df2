//! Group commit of a run's events: while one batch is being stored, new events queue up
//! and go in the next batch (one transaction, one multi-row insert). Each event is
//! published on the bus only after it is stored, so the log always holds at least what
//! any subscriber has seen. A `tool.call` event goes in with its job: both or neither.

use penny_queue::{JobId, NewJob};
use penny_store::{events, TenantId, TenantTx};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::ChatError;

const BATCH: usize = 256;

enum Item {
    Event(Value),
    /// An event and the job it announces, stored in one transaction.
    WithJob(Value, NewJob, oneshot::Sender<Result<JobId, String>>),
}

pub struct EventWriter {
    tx: mpsc::Sender<Item>,
    task: JoinHandle<Result<(), ChatError>>,
}

impl EventWriter {
    pub fn spawn(engine: Engine, tenant: TenantId, conversation: Uuid) -> Self {
        let (tx, mut rx) = mpsc::channel::<Item>(1024);
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                // A job ends its batch, so its event is the last one stored before it.
                while batch.len() < BATCH && matches!(batch.last(), Some(Item::Event(_))) {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                let mut job = None;
                let events: Vec<Value> = batch
                    .into_iter()
                    .map(|item| match item {
                        Item::Event(e) => e,
                        Item::WithJob(e, new, reply) => {
                            job = Some((new, reply));
                            e
                        }
                    })
                    .collect();
                let mut db = engine.0.store.tenant(tenant).await?;
                let stored = events::append(&mut db, tenant, conversation, events).await?;
                match job {
                    None => db.commit().await?,
                    Some((new, reply)) => match enqueue(db, new).await {
                        Ok(id) => {
                            let _ = reply.send(Ok(id));
                        }
                        Err(e) => {
                            // Nothing was stored: the call is refused, the run goes on.
                            let _ = reply.send(Err(e.to_string()));
                            continue;
                        }
                    },
                }
                engine.publish_all(conversation, &stored).await;
            }
            Ok(())
        });
        EventWriter { tx, task }
    }

    /// Queues an event (waits when 1024 are already queued: backpressure on the stream).
    pub async fn send(&self, event: Value) {
        let _ = self.tx.send(Item::Event(event)).await;
    }

    /// Stores `event` and enqueues `job` in one transaction, after every event before it.
    pub async fn send_with_job(&self, event: Value, job: NewJob) -> Result<JobId, String> {
        let (reply, answer) = oneshot::channel();
        if self
            .tx
            .send(Item::WithJob(event, job, reply))
            .await
            .is_err()
        {
            return Err("the run's event log is closed".into());
        }
        answer
            .await
            .map_err(|_| "the run's event log stopped".to_string())?
    }

    /// Stores and publishes everything queued, then stops.
    pub async fn close(self) -> Result<(), ChatError> {
        drop(self.tx);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ChatError::Bus(format!("event writer stopped: {e}"))),
        }
    }
}

async fn enqueue(mut db: TenantTx, job: NewJob) -> Result<JobId, ChatError> {
    let id = penny_queue::enqueue(&mut db, job)
        .await
        .map_err(|e| ChatError::Queue(e.to_string()))?;
    db.commit().await?;
    Ok(id)
}
