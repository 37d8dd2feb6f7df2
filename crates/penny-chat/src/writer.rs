//! A run's events: numbered by the run, published at once, stored when they are facts.
//!
//! While a run lives it is its conversation's sequencer ([`EventWriter`]): it gives every
//! event the next seq itself. Deltas and tool progress are *live*: published at once on
//! the bus and kept in the bus's short live log, never stored. Tool calls, results and
//! artifacts are *stored*: written to the conversation's event log, then published. The
//! answer's text is stored as *checkpoints*: a `message.text` event with the whole text so
//! far, carrying the seq of the last live event it covers and `fromSeq`, the first; it is
//! stored (with `messages.content`) every second, 2 KB or 256 live events while they
//! flow, before every stored event, and with the run's end, and is not published
//! (subscribers saw what it covers); live events after it wait for it to be stored, so
//! the live log never runs more than one checkpoint ahead of the stored log. A checkpoint with nothing stored since the previous one replaces it. So the
//! event log, read with its checkpoints standing in for the deltas, has no gap, and a
//! crash keeps the answer up to the last checkpoint.
//!
//! A run may publish seqs only up to its reservation in the conversation's counter
//! (`conversation_seqs.reserved_seq`, migration 0026: 1024 past `run.started` when the run
//! is made, raised ahead of need with what it stores, cleared at its end); whoever else
//! numbers an event of the conversation (the reaper) numbers past it.
//!
//! The writing is shared by every run of the process: a few writer tasks (shards; a
//! conversation always goes to the same one, so its events keep their order) take
//! everything queued. Of a batch, each conversation's live events before its first stored
//! one are published at once; then what is stored is stored, for all conversations of a
//! tenant in one call committed on its own (one round trip, whatever the number of
//! conversations); then the rest is published. A stored event is thus stored before it is
//! published, and nothing after it overtakes it.
//!
//! A `tool.call` event goes in with its job, in a transaction of its own: both or
//! neither, and a failing job touches no other run's events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use penny_bus::{Bus, Logged};
use penny_queue::{JobId, NewJob};
use penny_store::events::{self, RunEvents};
use penny_store::{Store, TenantId, TenantTx};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::error::ChatError;

/// Most messages taken in one batch.
const BATCH: usize = 1024;
/// Messages queued per shard before senders wait (backpressure on the streams).
const QUEUE: usize = 8192;
/// Seqs a run reserves at a time (the first reservation is made with the run, migration
/// 0026, with the same number).
const RESERVE: i64 = 1024;
/// A checkpoint is stored once this long has passed since the last one, while text flows…
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// …or once this much text came since…
const CHECKPOINT_BYTES: usize = 2048;
/// …or this many live events: fewer than the live log keeps ([`penny_bus::LIVE_LOG_LEN`]),
/// so what the live log has lost is always covered by a stored checkpoint.
pub(crate) const CHECKPOINT_EVENTS: usize = penny_bus::LIVE_LOG_LEN / 2;

enum Item {
    /// Published (and kept in the live log), not stored.
    Live(Value),
    /// Stored, then published.
    Stored(Value),
    /// Stored, not published: a checkpoint of the answer's text, or only a reservation.
    Checkpoint {
        event: Option<Value>,
        replaces: i64,
        content: Option<(Uuid, String)>,
    },
    /// An event and the job it announces, stored in one transaction, then published.
    WithJob(Value, NewJob, oneshot::Sender<Result<JobId, String>>),
    /// Answered once everything this conversation queued before is stored and published.
    Flush(oneshot::Sender<Result<(), String>>),
}

struct Msg {
    tenant: TenantId,
    conversation: Uuid,
    /// The reservation this message raises the run's to once stored (0: none).
    reserve: i64,
    /// The run's reservation as stored: a live event above it waits for the store.
    reserved: Arc<AtomicI64>,
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

    /// The writer of run `run`, answering `message` in `conversation`; it numbers nothing
    /// until [`EventWriter::begin`].
    pub fn writer(
        &self,
        tenant: TenantId,
        conversation: Uuid,
        run: Uuid,
        message: Uuid,
    ) -> EventWriter {
        // Ids are random (v4): their low bits spread conversations evenly.
        let shard = (conversation.as_u128() % self.shards.len() as u128) as usize;
        EventWriter {
            tenant,
            conversation,
            run,
            message,
            tx: self.shards[shard].clone(),
            reserved: Arc::new(AtomicI64::new(0)),
            seq: Mutex::new(Sequencer::default()),
        }
    }
}

/// A checkpoint event and the stored checkpoint it replaces (0: none).
pub struct Checkpoint {
    pub event: Value,
    pub replaces: i64,
}

/// What a run's end stores after its writer is closed.
pub struct Closed {
    /// The seq of the run's final event.
    pub seq: i64,
    /// The answer's last checkpoint, if live events came since the last one stored.
    pub checkpoint: Option<Checkpoint>,
}

/// Where a run's numbering stands.
#[derive(Default)]
struct Sequencer {
    /// The next seq to give (0: not begun).
    next: i64,
    /// The highest reservation asked for (stored or on its way).
    asked: i64,
    /// The answer's text so far.
    text: String,
    /// The first seq not stored since the last stored event (the next checkpoint's
    /// `fromSeq`), if any live event came since.
    from: Option<i64>,
    /// The newest checkpoint, while nothing was stored after it: (seq, fromSeq).
    checkpoint: Option<(i64, i64)>,
    /// When the last checkpoint was made, the text's length then, and the live events
    /// since.
    checkpoint_at: Option<Instant>,
    checkpoint_len: usize,
    live_since: usize,
}

/// One run's handle on the shared writer: its conversation's sequencer while it lives.
pub struct EventWriter {
    tenant: TenantId,
    conversation: Uuid,
    run: Uuid,
    message: Uuid,
    tx: mpsc::Sender<Msg>,
    reserved: Arc<AtomicI64>,
    // A tokio lock, held while queueing: events queue in the order of their seqs.
    seq: Mutex<Sequencer>,
}

impl EventWriter {
    /// Starts numbering after `started` (the seq of the run's `run.started`; the run was
    /// made with seqs reserved up to `started + RESERVE`). Later calls change nothing.
    pub async fn begin(&self, started: i64) {
        let mut s = self.seq.lock().await;
        if s.next == 0 {
            s.next = started + 1;
            s.asked = started + RESERVE - 1;
            s.checkpoint_at = Some(Instant::now());
            self.reserved.store(s.asked, Ordering::Release);
        }
    }

    async fn put(&self, reserve: i64, item: Item) -> bool {
        let msg = Msg {
            tenant: self.tenant,
            conversation: self.conversation,
            reserve,
            reserved: self.reserved.clone(),
            item,
        };
        self.tx.send(msg).await.is_ok()
    }

    /// Gives the next seq to `event`, first asking for more seqs when the reservation is
    /// three quarters used (stored long before it is needed, at model pace).
    async fn number(&self, s: &mut Sequencer, event: &mut Value) -> i64 {
        let seq = s.next;
        s.next += 1;
        if seq + RESERVE / 4 > s.asked {
            s.asked = seq + RESERVE;
            let item = Item::Checkpoint {
                event: None,
                replaces: 0,
                content: None,
            };
            self.put(s.asked, item).await;
        }
        event["seq"] = Value::from(seq);
        seq
    }

    /// Publishes a live event (a delta, tool progress): not stored; a delta's text joins
    /// the answer's, checkpointed every second or 2 KB.
    pub async fn send(&self, mut event: Value) {
        let mut s = self.seq.lock().await;
        if s.next == 0 {
            return;
        }
        if event["type"] == "message.delta" {
            if let Some(text) = event["text"].as_str() {
                s.text.push_str(text);
            }
        }
        let seq = self.number(&mut s, &mut event).await;
        s.from.get_or_insert(seq);
        s.live_since += 1;
        self.put(0, Item::Live(event)).await;
        let due = s
            .checkpoint_at
            .is_some_and(|at| at.elapsed() >= CHECKPOINT_EVERY)
            || s.text.len() - s.checkpoint_len >= CHECKPOINT_BYTES
            || s.live_since >= CHECKPOINT_EVENTS;
        if due {
            self.checkpoint(&mut s).await;
        }
    }

    /// Stores a checkpoint of the answer covering the live events since the last stored
    /// one, if any came.
    async fn checkpoint(&self, s: &mut Sequencer) {
        if let Some(last) = self.next_checkpoint(s) {
            let item = Item::Checkpoint {
                event: Some(last.event),
                replaces: last.replaces,
                content: Some((self.message, s.text.clone())),
            };
            self.put(0, item).await;
        }
    }

    /// The checkpoint of the live events since the last stored one, if any came.
    fn next_checkpoint(&self, s: &mut Sequencer) -> Option<Checkpoint> {
        let from = s.from.take()?;
        let seq = s.next - 1;
        let (replaces, from) = match s.checkpoint {
            Some((prev, prev_from)) => (prev, prev_from),
            None => (0, from),
        };
        let event = json!({"type": "message.text", "runId": self.run, "messageId": self.message,
            "text": s.text, "fromSeq": from, "seq": seq});
        s.checkpoint = Some((seq, from));
        s.checkpoint_at = Some(Instant::now());
        s.checkpoint_len = s.text.len();
        s.live_since = 0;
        Some(Checkpoint { event, replaces })
    }

    /// The seq for a stored event, after the checkpoint of what came live before it.
    async fn before_stored(&self, s: &mut Sequencer, event: &mut Value) {
        self.checkpoint(s).await;
        s.checkpoint = None;
        self.number(s, event).await;
    }

    /// Stores `event` (a tool call or result, an artifact), then publishes it.
    pub async fn store(&self, mut event: Value) {
        let mut s = self.seq.lock().await;
        if s.next == 0 {
            return;
        }
        self.before_stored(&mut s, &mut event).await;
        self.put(0, Item::Stored(event)).await;
    }

    /// Stores `event` and enqueues `job` in one transaction, after every event before it.
    pub async fn send_with_job(&self, mut event: Value, job: NewJob) -> Result<JobId, String> {
        let (reply, answer) = oneshot::channel();
        {
            let mut s = self.seq.lock().await;
            if s.next == 0 {
                return Err("the run has not begun".into());
            }
            self.before_stored(&mut s, &mut event).await;
            if !self.put(0, Item::WithJob(event, job, reply)).await {
                return Err("the event log is closed".into());
            }
        }
        answer
            .await
            .map_err(|_| "the event log stopped".to_string())?
    }

    /// Waits until everything queued is stored and published, and returns what the run's
    /// end stores: the seq for its final event and the last checkpoint of the answer (in
    /// the end's own call: one transaction fewer per answer); reports the first failure
    /// to store one of this run's events.
    pub async fn close(self) -> Result<Closed, ChatError> {
        let (reply, answer) = oneshot::channel();
        let closed = {
            let mut s = self.seq.lock().await;
            if !self.put(0, Item::Flush(reply)).await {
                return Err(ChatError::Bus("the event log is closed".into()));
            }
            Closed {
                checkpoint: self.next_checkpoint(&mut s),
                seq: s.next,
            }
        };
        match answer.await {
            Ok(Ok(())) => Ok(closed),
            Ok(Err(e)) => Err(ChatError::Bus(format!("storing events failed: {e}"))),
            Err(_) => Err(ChatError::Bus("the event log stopped".into())),
        }
    }
}

/// What a batch does for one conversation: live events published before the store, what
/// is stored, and what is published after it.
#[derive(Default)]
struct Plan {
    tenant: Option<TenantId>,
    early: Vec<Value>,
    stored: RunEvents,
    late: Vec<Value>,
    /// A stored event (or a needed reservation) came: everything after it waits.
    blocked: bool,
    reserved: Option<Arc<AtomicI64>>,
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
        let mut order: Vec<Uuid> = Vec::new();
        let mut plans: HashMap<Uuid, Plan> = HashMap::new();
        let mut flushes = Vec::new();
        let mut job = None;
        for m in batch {
            if let Item::Flush(reply) = m.item {
                flushes.push((m.conversation, reply));
                continue;
            }
            if self.failed.contains_key(&m.conversation) {
                continue;
            }
            let plan = plans.entry(m.conversation).or_insert_with(|| {
                order.push(m.conversation);
                Plan::default()
            });
            plan.tenant = Some(m.tenant);
            plan.reserved = Some(m.reserved.clone());
            plan.stored.reserve = plan.stored.reserve.max(m.reserve);
            match m.item {
                Item::Live(e) => {
                    let covered =
                        e["seq"].as_i64().unwrap_or(i64::MAX) <= m.reserved.load(Ordering::Acquire);
                    if plan.blocked || !covered {
                        plan.blocked = true;
                        plan.late.push(e);
                    } else {
                        plan.early.push(e);
                    }
                }
                Item::Stored(e) => {
                    plan.blocked = true;
                    plan.stored.events.push(e.clone());
                    plan.late.push(e);
                }
                Item::Checkpoint {
                    event,
                    replaces,
                    content,
                } => {
                    if let Some(e) = event {
                        // A checkpoint replaces the previous one, stored or in this batch.
                        let kept = &mut plan.stored.events;
                        match kept
                            .iter()
                            .position(|k| k["seq"].as_i64() == Some(replaces))
                        {
                            Some(i) => {
                                kept.remove(i);
                            }
                            None if replaces > 0 => plan.stored.replaces = replaces,
                            None => {}
                        }
                        kept.push(e);
                    }
                    if content.is_some() {
                        plan.stored.content = content;
                        // What comes after a checkpoint is published once it is stored,
                        // so the live log never runs more than a checkpoint ahead.
                        plan.blocked = true;
                    }
                }
                Item::WithJob(e, new, reply) => {
                    job = Some((m.tenant, m.conversation, e, new, reply))
                }
                Item::Flush(_) => {}
            }
        }
        let early = take_each(&order, &mut plans, |p| &mut p.early);
        publish(&*self.bus, &early).await;
        self.store_all(&order, &mut plans).await;
        plans.retain(|c, _| !self.failed.contains_key(c));
        let late = take_each(&order, &mut plans, |p| &mut p.late);
        publish(&*self.bus, &late).await;
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

    /// Stores the batch's stored part: per tenant, all of its conversations in one call;
    /// if that fails, each conversation on its own, so one bad conversation (say, deleted
    /// mid-run) fails only its own run. A stored reservation is made known to its run.
    async fn store_all(&mut self, order: &[Uuid], plans: &mut HashMap<Uuid, Plan>) {
        let mut tenants: Vec<(TenantId, Vec<(Uuid, RunEvents)>)> = Vec::new();
        for c in order {
            let plan = plans.get_mut(c).expect("planned");
            let s = &plan.stored;
            if s.events.is_empty() && s.reserve == 0 && s.content.is_none() {
                continue;
            }
            let Some(tenant) = plan.tenant else { continue };
            let run = std::mem::take(&mut plan.stored);
            match tenants.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, list)) => list.push((*c, run)),
                None => tenants.push((tenant, vec![(*c, run)])),
            }
        }
        for (tenant, list) in tenants {
            let together = async {
                let mut conn = self.store.pool().acquire().await?;
                events::put_many(&mut conn, tenant, &list).await
            };
            let found = match together.await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, %tenant, "storing a batch of events failed; storing per conversation");
                    let mut found = Vec::new();
                    for one in &list {
                        let alone = async {
                            let mut conn = self.store.pool().acquire().await?;
                            events::put_many(&mut conn, tenant, std::slice::from_ref(one)).await
                        };
                        match alone.await {
                            Ok(f) => found.extend(f),
                            Err(e) => {
                                self.failed.insert(one.0, e.to_string());
                            }
                        }
                    }
                    found
                }
            };
            for (conversation, run) in &list {
                if !found.contains(conversation) {
                    self.failed
                        .entry(*conversation)
                        .or_insert_with(|| "the conversation no longer exists".into());
                    continue;
                }
                if run.reserve > 0 {
                    if let Some(r) = plans.get(conversation).and_then(|p| p.reserved.as_ref()) {
                        r.fetch_max(run.reserve, Ordering::AcqRel);
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
            let run = RunEvents {
                events: vec![event.clone()],
                ..Default::default()
            };
            let found = events::put_many(&mut db, tenant, &[(conversation, run)]).await?;
            if found.is_empty() {
                return Err(ChatError::NotFound);
            }
            enqueue(db, job).await
        };
        match stored.await {
            Ok(id) => {
                publish(&*self.bus, &[(conversation, event)]).await;
                Ok(id)
            }
            // Nothing was stored: the call is refused, the run goes on.
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The events `part` picks out of each conversation's plan, with their conversation, in
/// the batch's order of conversations.
fn take_each(
    order: &[Uuid],
    plans: &mut HashMap<Uuid, Plan>,
    part: impl Fn(&mut Plan) -> &mut Vec<Value>,
) -> Vec<(Uuid, Value)> {
    let mut out = Vec::new();
    for c in order {
        if let Some(plan) = plans.get_mut(c) {
            out.extend(std::mem::take(part(plan)).into_iter().map(|e| (*c, e)));
        }
    }
    out
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

/// Publishes numbered events of conversations in order, each kept in its conversation's
/// live log, in one write; a bus failure only delays live delivery (clients resume from
/// the logs), so it is logged, not returned.
pub(crate) async fn publish(bus: &dyn Bus, events: &[(Uuid, Value)]) {
    let messages: Vec<Logged> = events
        .iter()
        .filter_map(|(conversation, e)| {
            Some(Logged {
                topic: crate::conversation_topic(*conversation),
                seq: u64::try_from(e["seq"].as_i64()?).ok()?,
                payload: bytes::Bytes::from(serde_json::to_vec(e).ok()?),
            })
        })
        .collect();
    if messages.is_empty() {
        return;
    }
    let count = messages.len();
    if let Err(err) = bus.publish_logged(messages).await {
        tracing::warn!(error = %err, count, "publishing conversation events failed");
    }
}
