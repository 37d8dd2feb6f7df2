//! Rate limits: fixed windows keyed by a string (`user:…`, `key:…`, `ip:…`, `login:…`).
//!
//! Two backends behind one trait: in-process (one instance) and Redis (limits hold across
//! every instance sharing the Redis). A fixed window is what the `RateLimit-*` headers
//! describe (limit, remaining, seconds to reset) and costs one round trip in Redis.

mod memory;
mod redis_backend;
mod slots;

use std::time::Duration;

pub use memory::MemoryLimiter;
pub use redis_backend::RedisLimiter;
pub use slots::{Slot, Slots};

/// The outcome of counting one hit against a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
}

impl Decision {
    fn from_count(count: u64, limit: u64, ttl: Duration) -> Self {
        Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_secs: ttl.as_secs().max(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate-limit backend unavailable: {0}")]
    Backend(String),
}

#[async_trait::async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Counts one hit for `key` in a window of `window` and says whether it is allowed.
    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError>;
    /// Reads the current count without adding a hit.
    async fn peek(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError>;
    /// Takes back one hit of `key` in its current window (an attempt counted before it
    /// was known to succeed); never below zero, never reopens an expired window.
    async fn forgive(&self, key: &str) -> Result<(), LimitError>;
    /// Forgets `key` (e.g. failed-login counter after a successful login).
    async fn reset(&self, key: &str) -> Result<(), LimitError>;
    /// Pings the backend (readiness).
    async fn ping(&self) -> Result<(), LimitError>;
}
