//! In-process fixed windows, for a single instance without Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Decision, LimitError, Limiter};

const SHARDS: usize = 32;
/// Sweep expired windows when a shard grows past this, so memory stays bounded by the
/// number of keys active within one window.
const SWEEP_AT: usize = 4096;

#[derive(Default)]
pub struct MemoryLimiter {
    shards: [Mutex<HashMap<String, (u64, Instant)>>; SHARDS],
}

impl MemoryLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, (u64, Instant)>> {
        // FNV-1a: cheap and good enough to spread keys over shards.
        let h = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        &self.shards[(h as usize) % SHARDS]
    }

    fn count(&self, key: &str, window: Duration, add: u64) -> (u64, Duration) {
        let now = Instant::now();
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_AT {
            map.retain(|_, (_, end)| *end > now);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += add;
        (entry.0, entry.1.saturating_duration_since(now))
    }
}

#[async_trait::async_trait]
impl Limiter for MemoryLimiter {
    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError> {
        let (count, ttl) = self.count(key, window, 1);
        Ok(Decision::from_count(count, limit, ttl))
    }

    async fn peek(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError> {
        let (count, ttl) = self.count(key, window, 0);
        // `peek` asks "would one more be allowed?".
        Ok(Decision::from_count(count + 1, limit, ttl))
    }

    async fn forgive(&self, key: &str) -> Result<(), LimitError> {
        let now = Instant::now();
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(key).filter(|e| e.1 > now) {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), LimitError> {
        self.shard(key)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<(), LimitError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_up_to_limit_then_refuses_until_window_ends() {
        let l = MemoryLimiter::new();
        let w = Duration::from_millis(300);
        for i in 0..3 {
            let d = l.hit("k", 3, w).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let d = l.hit("k", 3, w).await.unwrap();
        assert!(!d.allowed);
        assert!(d.reset_secs >= 1);
        assert!(l.hit("other", 3, w).await.unwrap().allowed);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(l.hit("k", 3, w).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn reset_forgets_the_key_and_peek_does_not_count() {
        let l = MemoryLimiter::new();
        let w = Duration::from_secs(60);
        l.hit("k", 1, w).await.unwrap();
        assert!(!l.peek("k", 1, w).await.unwrap().allowed);
        l.reset("k").await.unwrap();
        assert!(l.peek("k", 1, w).await.unwrap().allowed);
        assert!(l.peek("k", 1, w).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn forgive_takes_back_one_hit_and_never_goes_below_zero() {
        let l = MemoryLimiter::new();
        let w = Duration::from_secs(60);
        l.hit("k", 2, w).await.unwrap();
        l.hit("k", 2, w).await.unwrap();
        assert!(!l.peek("k", 2, w).await.unwrap().allowed);
        l.forgive("k").await.unwrap();
        assert!(l.peek("k", 2, w).await.unwrap().allowed);
        l.forgive("k").await.unwrap();
        l.forgive("k").await.unwrap();
        l.forgive("absent").await.unwrap();
        assert_eq!(l.hit("k", 2, w).await.unwrap().remaining, 1);
    }
}
