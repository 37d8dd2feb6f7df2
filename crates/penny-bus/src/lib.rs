//! Conversation events fanned out to every subscriber of a topic, in this process
//! (`MemoryBus`) or across PENNY instances through Redis pub/sub (`RedisBus`).
//!
//! The bus is a live feed: a subscriber that falls behind, or misses messages while Redis
//! is unreachable, gets [`Lagged`] and re-reads what it missed. Delivery per topic is in
//! publish order; buffers are bounded per topic, so a slow subscriber loses messages
//! instead of growing memory, and a topic with no subscribers keeps no state at all.
//!
//! Beside the feed, each topic published with [`Bus::publish_logged`] has a short live
//! log: the last [`LIVE_LOG_LEN`] (about) messages under their numbers, forgotten
//! [`LIVE_LOG_TTL`] after the last one (a Redis Stream with explicit ids, or a ring in
//! this process). It is what a client resuming mid-stream reads for what the database does
//! not keep (a run's deltas); it is not durable, and nothing relies on it outliving Redis.

mod hub;
mod memory;
mod redis_bus;

pub use memory::MemoryBus;
pub use redis_bus::RedisBus;

use std::fmt;

use bytes::Bytes;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// The subscriber fell behind and this many messages were dropped for it; it should
/// re-read from the database. `Lagged(0)` means an unknown number were missed while the Redis
/// pub/sub connection was being re-established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subscriber fell behind: {0} messages dropped")]
pub struct Lagged(pub u64);

/// Entries a topic's live log keeps (Redis trims to about this many, in whole nodes).
pub const LIVE_LOG_LEN: usize = 512;
/// How long a topic's live log is kept after its last entry.
pub const LIVE_LOG_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// A message for [`Bus::publish_logged`]: published on `topic` and kept in its live log
/// under `seq` (strictly increasing per topic).
#[derive(Debug, Clone)]
pub struct Logged {
    pub topic: String,
    pub seq: u64,
    pub payload: Bytes,
}

#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers `payload` to every current subscriber of `topic`, on every instance.
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), BusError>;
    /// Publishes `(topic, payload)` pairs in order, as one write where the bus can (one
    /// round trip to Redis instead of one per message).
    async fn publish_many(&self, messages: Vec<(String, Bytes)>) -> Result<(), BusError> {
        for (topic, payload) in messages {
            self.publish(&topic, payload).await?;
        }
        Ok(())
    }
    /// Appends each message to its topic's live log, then publishes it, in order and as
    /// one write where the bus can. A message whose `seq` is not above its log's last is
    /// published but not logged.
    async fn publish_logged(&self, messages: Vec<Logged>) -> Result<(), BusError>;
    /// The live log of `topic` after `seq`, in order: empty when it expired, was never
    /// written, or was lost (a Redis restart).
    async fn live_after(&self, topic: &str, seq: u64) -> Result<Vec<(u64, Bytes)>, BusError>;
    /// Subscribes to `topic`: every message published after this returns is delivered.
    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError>;
    /// Whether the bus can deliver right now (for readiness checks).
    async fn ping(&self) -> Result<(), BusError>;
}

/// What travels through a topic's broadcast channel.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Message(Bytes),
    /// The Redis pub/sub connection was lost and the topic is subscribed again as of
    /// connection `epoch`: messages published in between are gone.
    Gap {
        epoch: u64,
    },
}

/// A live subscription to one topic. Dropping it unsubscribes (for Redis: the last local
/// subscriber of a topic unsubscribes the channel).
pub struct Subscription {
    rx: broadcast::Receiver<Delivery>,
    /// The connection epoch this subscription started in: it has missed nothing from
    /// gaps that closed before or in that epoch.
    epoch: u64,
    // Declared after `rx` so that it runs once the receiver is gone: the release then
    // sees the true number of remaining subscribers.
    _release: Release,
}

impl Subscription {
    pub(crate) fn new(rx: broadcast::Receiver<Delivery>, epoch: u64, release: Release) -> Self {
        Self {
            rx,
            epoch,
            _release: release,
        }
    }

    /// Next message; `Ok(None)` when the bus is closed; `Err(Lagged(n))` when this
    /// subscriber fell behind and n messages were dropped (the caller then re-reads from
    /// the database). Cancel-safe, so it can sit in a `select!` loop.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, Lagged> {
        loop {
            match self.rx.recv().await {
                Ok(Delivery::Message(payload)) => return Ok(Some(payload)),
                Ok(Delivery::Gap { epoch }) if epoch > self.epoch => {
                    self.epoch = epoch;
                    return Err(Lagged(0));
                }
                // A gap that closed before this subscription existed: nothing was missed.
                Ok(Delivery::Gap { .. }) => continue,
                Err(RecvError::Lagged(n)) => return Err(Lagged(n)),
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("queued", &self.rx.len())
            .finish_non_exhaustive()
    }
}

/// Tells the bus that a subscriber went away, when dropped.
pub(crate) struct Release(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Release {
    pub(crate) fn new(f: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self(Some(Box::new(f)))
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// `broadcast::channel` panics on a zero capacity; one slot is the smallest real buffer.
pub(crate) fn topic_channel(capacity: usize) -> broadcast::Sender<Delivery> {
    broadcast::channel(capacity.max(1)).0
}
