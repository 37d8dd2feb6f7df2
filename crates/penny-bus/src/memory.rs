//! The in-process bus, for a single instance (no `REDIS_URL`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::{
    topic_channel, Bus, BusError, Delivery, Logged, Release, Subscription, LIVE_LOG_LEN,
    LIVE_LOG_TTL,
};

/// Topics live only in this process; one bounded broadcast channel per topic that has
/// subscribers, and one ring per topic with a live log.
pub struct MemoryBus {
    topics: Arc<Topics>,
    logs: Mutex<Logs>,
}

#[derive(Default)]
struct Logs {
    rings: HashMap<String, Ring>,
    swept: Option<Instant>,
}

struct Ring {
    entries: VecDeque<(u64, Bytes)>,
    touched: Instant,
}

impl Logs {
    fn append(&mut self, topic: &str, seq: u64, payload: Bytes, now: Instant) {
        let ring = self.rings.entry(topic.to_owned()).or_insert_with(|| Ring {
            entries: VecDeque::new(),
            touched: now,
        });
        ring.touched = now;
        if ring.entries.back().is_some_and(|(last, _)| *last >= seq) {
            return;
        }
        if ring.entries.len() == LIVE_LOG_LEN {
            ring.entries.pop_front();
        }
        ring.entries.push_back((seq, payload));
    }

    /// Forgets rings not written for `LIVE_LOG_TTL`, at most once a tenth of that.
    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|at| now.duration_since(at) < LIVE_LOG_TTL / 10)
        {
            return;
        }
        self.swept = Some(now);
        self.rings
            .retain(|_, r| now.duration_since(r.touched) < LIVE_LOG_TTL);
    }
}

struct Topics {
    capacity: usize,
    senders: RwLock<Senders>,
}

type Senders = HashMap<String, broadcast::Sender<Delivery>>;

impl MemoryBus {
    /// `capacity_per_topic` is how many messages a subscriber may fall behind before it
    /// gets `Lagged` (at least 1).
    pub fn new(capacity_per_topic: usize) -> Self {
        Self {
            topics: Arc::new(Topics {
                capacity: capacity_per_topic,
                senders: RwLock::new(HashMap::new()),
            }),
            logs: Mutex::default(),
        }
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, Logs> {
        // Each critical section leaves the rings whole, so a poisoned lock is still safe.
        self.logs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many topics have at least one subscriber (for metrics and tests).
    pub fn live_topics(&self) -> usize {
        self.topics.read().len()
    }
}

impl Topics {
    // A panic while holding the lock cannot leave the map half-updated (each critical
    // section is a single map operation), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Senders> {
        self.senders.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Senders> {
        self.senders.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self, topic: &str) {
        let mut senders = self.write();
        // Counted under the write lock, which `subscribe` also takes: a subscriber that
        // arrived since this one left keeps the topic.
        if senders.get(topic).is_some_and(|s| s.receiver_count() == 0) {
            senders.remove(topic);
        }
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), BusError> {
        if let Some(sender) = self.topics.read().get(topic) {
            // Fails only when there are no receivers, which is not an error for a feed.
            let _ = sender.send(Delivery::Message(payload));
        }
        Ok(())
    }

    async fn publish_logged(&self, messages: Vec<Logged>) -> Result<(), BusError> {
        let now = Instant::now();
        {
            let mut logs = self.logs();
            logs.sweep(now);
            for m in &messages {
                logs.append(&m.topic, m.seq, m.payload.clone(), now);
            }
        }
        for m in messages {
            self.publish(&m.topic, m.payload).await?;
        }
        Ok(())
    }

    async fn live_after(&self, topic: &str, seq: u64) -> Result<Vec<(u64, Bytes)>, BusError> {
        let logs = self.logs();
        let Some(ring) = logs.rings.get(topic) else {
            return Ok(Vec::new());
        };
        if ring.touched.elapsed() >= LIVE_LOG_TTL {
            return Ok(Vec::new());
        }
        let from = ring.entries.partition_point(|(s, _)| *s <= seq);
        Ok(ring.entries.range(from..).cloned().collect())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        let rx = self
            .topics
            .write()
            .entry(topic.to_owned())
            .or_insert_with(|| topic_channel(self.topics.capacity))
            .subscribe();
        let topics = Arc::downgrade(&self.topics);
        let topic = topic.to_owned();
        Ok(Subscription::new(
            rx,
            0,
            Release::new(move || {
                if let Some(topics) = topics.upgrade() {
                    topics.release(&topic);
                }
            }),
        ))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}
