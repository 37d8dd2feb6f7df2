//! The in-process bus, for a single instance (no `REDIS_URL`).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::{topic_channel, Bus, BusError, Delivery, Release, Subscription};

/// Topics live only in this process; one bounded broadcast channel per topic that has
/// subscribers.
pub struct MemoryBus {
    topics: Arc<Topics>,
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
        }
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
