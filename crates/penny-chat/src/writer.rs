//! Group commit of a run's events: while one batch is being stored, new events queue up
//! and go in the next batch (one transaction, one multi-row insert). Each event is
//! published on the bus only after it is stored, so the log always holds at least what
//! any subscriber has seen.

use penny_store::{events, TenantId};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::ChatError;

const BATCH: usize = 256;

pub struct EventWriter {
    tx: mpsc::Sender<Value>,
    task: JoinHandle<Result<(), ChatError>>,
}

impl EventWriter {
    pub fn spawn(engine: Engine, tenant: TenantId, conversation: Uuid) -> Self {
        let (tx, mut rx) = mpsc::channel::<Value>(1024);
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                let mut db = engine.0.store.tenant(tenant).await?;
                let stored = events::append(&mut db, tenant, conversation, batch).await?;
                db.commit().await?;
                engine.publish_all(conversation, &stored).await;
            }
            Ok(())
        });
        EventWriter { tx, task }
    }

    /// Queues an event (waits when 1024 are already queued: backpressure on the stream).
    pub async fn send(&self, event: Value) {
        let _ = self.tx.send(event).await;
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
