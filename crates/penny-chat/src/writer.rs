//! Group commit of conversation events, shared by every run of this process.
//!
//! Runs hand their events to a few writer tasks (shards; a conversation always goes to the
//! same one, so its events keep their order). A shard takes everything queued, stores it
//! for all conversations of a tenant in one call committed on its own (one round trip,
//! whatever the number of conversations), and only then publishes each event on the bus:
//! the log always holds at least what any subscriber has seen. While one batch is being
//! stored, new events queue up for the next. With 200 concurrent runs this is a few
//! transactions per batch instead of one per run, which keeps the pool free for
//! everything else.
//!
//! A call costs the database about as much for one event as for twenty (measured: most of
//! it is the call and its commit), so fewer writers, each storing larger batches, do less
//! work for the same events: two by default (`EVENT_WRITERS`). With 150 streams of model
//! pace (50 tokens/s) in `make bench-chat`, four writers cost PostgreSQL 25.8 ms of CPU per
//! stream, two 19.9 ms, one 15.2 ms; one would make every batch of the process wait on
//! the one before.
//!
//! Deltas of one message that queue up behind a busy writer are stored as one event (see
//! [`merge_delta`]): the text is the same, and clients already take deltas of any size.
//!
//! A `tool.call` event goes in with its job, in a transaction of its own: both or
//! neither, and a failing job touches no other run's events.

use std::collections::HashMap;
use std::sync::Arc;

use penny_bus::Bus;
use penny_queue::{JobId, NewJob};
use penny_store::{events, Store, TenantId, TenantTx};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::ChatError;

/// Most events stored in one batch.
const BATCH: usize = 1024;
/// Events queued per shard before senders wait (backpressure on the streams).
const QUEUE: usize = 8192;

enum Item {
    Event(Value),
    /// An event and the job it announces, stored in one transaction.
    WithJob(Value, NewJob, oneshot::Sender<Result<JobId, String>>),
    /// Answered once everything this conversation queued before is stored and published.
    Flush(oneshot::Sender<Result<(), String>>),
}

struct Msg {
    tenant: TenantId,
    conversation: Uuid,
    item: Item,
}

/// The process's shared event writer; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    shards: Arc<Vec<mpsc::Sender<Msg>>>,
}

impl EventLog {
    /// Starts `shards` writer tasks (at least one); they end when the last clone is dropped.
    pub fn spawn(store: Store, bus: Arc<dyn Bus>, shards: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(Shard::new(store.clone(), bus.clone()).run(rx));
                tx
            })
            .collect();
        EventLog {
            shards: Arc::new(shards),
        }
    }

    /// A writer for one run's events in `conversation`.
    pub fn writer(&self, tenant: TenantId, conversation: Uuid) -> EventWriter {
        // Ids are random (v4): their low bits spread conversations evenly.
        let shard = (conversation.as_u128() % self.shards.len() as u128) as usize;
        EventWriter {
            tenant,
            conversation,
            tx: self.shards[shard].clone(),
        }
    }
}

/// One run's handle on the shared writer.
pub struct EventWriter {
    tenant: TenantId,
    conversation: Uuid,
    tx: mpsc::Sender<Msg>,
}

impl EventWriter {
    async fn put(&self, item: Item) -> bool {
        let msg = Msg {
            tenant: self.tenant,
            conversation: self.conversation,
            item,
        };
        self.tx.send(msg).await.is_ok()
    }

    /// Queues an event (waits when the shard's queue is full).
    pub async fn send(&self, event: Value) {
        self.put(Item::Event(event)).await;
    }

    /// Stores `event` and enqueues `job` in one transaction, after every event before it.
    pub async fn send_with_job(&self, event: Value, job: NewJob) -> Result<JobId, String> {
        let (reply, answer) = oneshot::channel();
        if !self.put(Item::WithJob(event, job, reply)).await {
            return Err("the event log is closed".into());
        }
        answer
            .await
            .map_err(|_| "the event log stopped".to_string())?
    }

    /// Waits until everything queued is stored and published; reports the first failure to
    /// store one of this run's events.
    pub async fn close(self) -> Result<(), ChatError> {
        let (reply, answer) = oneshot::channel();
        if !self.put(Item::Flush(reply)).await {
            return Err(ChatError::Bus("the event log is closed".into()));
        }
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ChatError::Bus(format!("storing events failed: {e}"))),
            Err(_) => Err(ChatError::Bus("the event log stopped".into())),
        }
    }
}

/// Events of one batch for one tenant, per conversation in first-seen order.
#[derive(Default)]
struct TenantBatch {
    order: Vec<Uuid>,
    events: HashMap<Uuid, Vec<Value>>,
}

impl TenantBatch {
    fn push(&mut self, conversation: Uuid, event: Value) {
        let queued = self.events.entry(conversation).or_insert_with(|| {
            self.order.push(conversation);
            Vec::new()
        });
        if let Some(last) = queued.last_mut() {
            if merge_delta(last, &event) {
                return;
            }
        }
        queued.push(event);
    }
}

/// Longest text one merged delta may carry.
const MERGED_TEXT_MAX: usize = 16 * 1024;

/// Appends `next`'s text to `into` when both are deltas of the same message, queued one
/// right after the other. An idle writer stores each delta as it comes, so nothing merges;
/// a writer that falls behind (a batch holds several deltas of a message) stores, publishes
/// and sends one event for them instead of one each — the same text, with fewer rows and
/// socket writes, so load sheds cost instead of adding latency.
fn merge_delta(into: &mut Value, next: &Value) -> bool {
    let is_delta = |e: &Value| e["type"] == "message.delta";
    if !is_delta(into) || !is_delta(next) || into["messageId"] != next["messageId"] {
        return false;
    }
    let Some(more) = next["text"].as_str() else {
        return false;
    };
    match into.get_mut("text") {
        Some(Value::String(text)) if text.len() + more.len() <= MERGED_TEXT_MAX => {
            text.push_str(more);
            true
        }
        _ => false,
    }
}

struct Shard {
    store: Store,
    bus: Arc<dyn Bus>,
    /// Conversations whose events could not be stored, until their run's flush hears it.
    /// Later events of such a conversation are dropped: the run is ending as failed.
    failed: HashMap<Uuid, String>,
}

impl Shard {
    fn new(store: Store, bus: Arc<dyn Bus>) -> Self {
        Shard {
            store,
            bus,
            failed: HashMap::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            // A job ends its batch, so its event is the last one stored before it.
            while batch.len() < BATCH && !matches!(batch.last(), Some(m) if is_job(m)) {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            self.process(std::mem::take(&mut batch)).await;
        }
    }

    async fn process(&mut self, batch: Vec<Msg>) {
        let mut tenants: Vec<(TenantId, TenantBatch)> = Vec::new();
        let mut flushes = Vec::new();
        let mut job = None;
        for m in batch {
            match m.item {
                Item::Event(e) if !self.failed.contains_key(&m.conversation) => {
                    let i = match tenants.iter().position(|(t, _)| *t == m.tenant) {
                        Some(i) => i,
                        None => {
                            tenants.push((m.tenant, TenantBatch::default()));
                            tenants.len() - 1
                        }
                    };
                    tenants[i].1.push(m.conversation, e);
                }
                Item::Event(_) => {}
                Item::Flush(reply) => flushes.push((m.conversation, reply)),
                Item::WithJob(e, new, reply) => {
                    job = Some((m.tenant, m.conversation, e, new, reply))
                }
            }
        }
        for (tenant, group) in tenants {
            self.store_tenant(tenant, group).await;
        }
        if let Some((tenant, conversation, event, new, reply)) = job {
            let answer = match self.failed.get(&conversation) {
                Some(e) => Err(e.clone()),
                None => self.store_with_job(tenant, conversation, event, new).await,
            };
            let _ = reply.send(answer);
        }
        for (conversation, reply) in flushes {
            let _ = reply.send(self.failed.remove(&conversation).map_or(Ok(()), Err));
        }
    }

    /// One transaction for all of a tenant's conversations in the batch; if it fails, each
    /// conversation on its own, so one bad conversation (say, deleted mid-run) fails only
    /// its own run.
    async fn store_tenant(&mut self, tenant: TenantId, group: TenantBatch) {
        let TenantBatch { order, mut events } = group;
        let items: Vec<(Uuid, Vec<Value>)> = order
            .iter()
            .filter_map(|c| events.remove(c).map(|e| (*c, e)))
            .collect();
        // One call on its own: stored and committed in one round trip.
        let together = async {
            let mut conn = self.store.pool().acquire().await?;
            events::append_many(&mut conn, tenant, &items).await
        };
        match together.await {
            Ok(stored) => {
                // Every conversation's events in one publish (one round trip to Redis).
                let mut out = Vec::new();
                for (conversation, result) in stored {
                    match result {
                        Some(events) => out.extend(messages(conversation, &events)),
                        None => {
                            self.failed
                                .insert(conversation, "the conversation no longer exists".into());
                        }
                    }
                }
                publish_messages(&*self.bus, out).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, %tenant, "storing a batch of events failed; storing per conversation");
                for (conversation, batch) in items {
                    let alone = async {
                        let mut db = self.store.tenant(tenant).await?;
                        let stored = events::append(&mut db, tenant, conversation, batch).await?;
                        db.commit().await?;
                        Ok::<_, penny_store::StoreError>(stored)
                    };
                    match alone.await {
                        Ok(stored) => publish(&*self.bus, conversation, &stored).await,
                        Err(e) => {
                            self.failed.insert(conversation, e.to_string());
                        }
                    }
                }
            }
        }
    }

    async fn store_with_job(
        &mut self,
        tenant: TenantId,
        conversation: Uuid,
        event: Value,
        job: NewJob,
    ) -> Result<JobId, String> {
        let stored = async {
            let mut db = self.store.tenant(tenant).await?;
            let stored = events::append(&mut db, tenant, conversation, vec![event]).await?;
            let id = enqueue(db, job).await?;
            Ok::<_, ChatError>((stored, id))
        };
        match stored.await {
            Ok((events, id)) => {
                publish(&*self.bus, conversation, &events).await;
                Ok(id)
            }
            // Nothing was stored: the call is refused, the run goes on.
            Err(e) => Err(e.to_string()),
        }
    }
}

fn is_job(m: &Msg) -> bool {
    matches!(m.item, Item::WithJob(..))
}

async fn enqueue(mut db: TenantTx, job: NewJob) -> Result<JobId, ChatError> {
    let id = penny_queue::enqueue(&mut db, job)
        .await
        .map_err(|e| ChatError::Queue(e.to_string()))?;
    db.commit().await?;
    Ok(id)
}

/// Publishes stored events in order; a bus failure only delays live delivery (clients
/// resume from the log), so it is logged, not returned.
pub(crate) async fn publish(bus: &dyn Bus, conversation: Uuid, events: &[Value]) {
    publish_messages(bus, messages(conversation, events).collect()).await;
}

/// The bus messages of `conversation`'s `events`, in order.
fn messages(
    conversation: Uuid,
    events: &[Value],
) -> impl Iterator<Item = (String, bytes::Bytes)> + '_ {
    let topic = crate::conversation_topic(conversation);
    events.iter().map(move |e| {
        let bytes = bytes::Bytes::from(serde_json::to_vec(e).unwrap_or_default());
        (topic.clone(), bytes)
    })
}

/// Publishes `messages` at once ([`Bus::publish_many`]), logging a failure.
async fn publish_messages(bus: &dyn Bus, messages: Vec<(String, bytes::Bytes)>) {
    let count = messages.len();
    if let Err(err) = bus.publish_many(messages).await {
        tracing::warn!(error = %err, count, "publishing conversation events failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delta(message: &str, text: &str) -> Value {
        json!({"type": "message.delta", "runId": "r", "messageId": message, "text": text})
    }

    #[test]
    fn consecutive_deltas_of_one_message_merge_in_order() {
        let c = Uuid::new_v4();
        let mut b = TenantBatch::default();
        b.push(c, delta("m", "Hel"));
        b.push(c, delta("m", "lo"));
        b.push(c, delta("m", " you"));
        assert_eq!(b.events[&c], vec![delta("m", "Hello you")]);
    }

    #[test]
    fn other_events_and_other_messages_are_kept_apart() {
        let (c, d) = (Uuid::new_v4(), Uuid::new_v4());
        let mut b = TenantBatch::default();
        b.push(c, delta("m", "a"));
        b.push(c, json!({"type": "tool.call", "callId": "x"}));
        b.push(c, delta("m", "b"));
        b.push(c, delta("n", "c"));
        b.push(d, delta("m", "d"));
        assert_eq!(b.events[&c].len(), 4);
        assert_eq!(b.events[&c][2], delta("m", "b"));
        assert_eq!(b.events[&d], vec![delta("m", "d")]);
        assert_eq!(b.order, vec![c, d]);
    }

    #[test]
    fn a_merged_delta_stays_bounded() {
        let c = Uuid::new_v4();
        let mut b = TenantBatch::default();
        let big = "x".repeat(MERGED_TEXT_MAX - 1);
        b.push(c, delta("m", &big));
        b.push(c, delta("m", "y"));
        b.push(c, delta("m", "z"));
        let texts: Vec<usize> = b.events[&c]
            .iter()
            .map(|e| e["text"].as_str().unwrap().len())
            .collect();
        assert_eq!(texts, vec![MERGED_TEXT_MAX, 1]);
    }
}
