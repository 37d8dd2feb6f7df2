//! Redis fixed windows shared by every instance: one atomic script per hit.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use crate::{Decision, LimitError, Limiter};

/// INCRBY then set the expiry on the first hit of a window; returns count and ms left.
const HIT: &str = r#"
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"#;

/// Takes back one hit if the window still exists and holds any.
const FORGIVE: &str = r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"#;

#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    script: Script,
    forgive: Script,
    namespace: String,
}

impl RedisLimiter {
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, LimitError> {
        let client = redis::Client::open(url).map_err(|e| LimitError::Backend(e.to_string()))?;
        // redis 0.27's default reconnect backoff grows by a factor of 100: an unreachable
        // Redis would take minutes to report. Fail within seconds instead.
        let config = ConnectionManagerConfig::new()
            .set_factor(2)
            .set_max_delay(1_000)
            .set_number_of_retries(1)
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| LimitError::Backend(e.to_string()))?;
        Ok(Self {
            conn,
            script: Script::new(HIT),
            forgive: Script::new(FORGIVE),
            namespace: namespace.to_string(),
        })
    }

    async fn count(
        &self,
        key: &str,
        window: Duration,
        add: u64,
    ) -> Result<(u64, Duration), LimitError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.script.key(format!("{}:rl:{key}", self.namespace));
        invocation.arg(window.as_millis() as u64).arg(add);
        let mut answer = invocation.invoke_async::<(u64, i64)>(&mut conn).await;
        // A connection Redis dropped (a restart) fails the first command on it, which
        // makes the manager reconnect: once more, on the new connection, so a restart of
        // Redis is not one failed request per instance. At worst a hit whose reply was
        // lost counts twice.
        if matches!(&answer, Err(e) if e.is_connection_dropped() || e.is_io_error()) {
            answer = invocation.invoke_async(&mut conn).await;
        }
        let (n, ttl_ms) = answer.map_err(|e| LimitError::Backend(e.to_string()))?;
        Ok((n, Duration::from_millis(ttl_ms.max(0) as u64)))
    }
}

#[async_trait::async_trait]
impl Limiter for RedisLimiter {
    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError> {
        let (n, ttl) = self.count(key, window, 1).await?;
        Ok(Decision::from_count(n, limit, ttl))
    }

    async fn peek(&self, key: &str, limit: u64, window: Duration) -> Result<Decision, LimitError> {
        let (n, ttl) = self.count(key, window, 0).await?;
        Ok(Decision::from_count(n + 1, limit, ttl))
    }

    async fn forgive(&self, key: &str) -> Result<(), LimitError> {
        let mut conn = self.conn.clone();
        self.forgive
            .key(format!("{}:rl:{key}", self.namespace))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| LimitError::Backend(e.to_string()))
    }

    async fn reset(&self, key: &str) -> Result<(), LimitError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(format!("{}:rl:{key}", self.namespace))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| LimitError::Backend(e.to_string()))
    }

    async fn ping(&self) -> Result<(), LimitError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| LimitError::Backend(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        std::env::var("PENNY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_reported_within_seconds() {
        let started = std::time::Instant::now();
        assert!(RedisLimiter::connect("redis://127.0.0.1:9/", "x")
            .await
            .is_err());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn two_limiters_share_one_window_through_redis() {
        let ns = format!("test-{}", uuid::Uuid::new_v4());
        let a = RedisLimiter::connect(&url(), &ns).await.unwrap();
        let b = RedisLimiter::connect(&url(), &ns).await.unwrap();
        let w = Duration::from_secs(30);
        assert!(a.hit("u", 2, w).await.unwrap().allowed);
        assert!(b.hit("u", 2, w).await.unwrap().allowed);
        let d = a.hit("u", 2, w).await.unwrap();
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.reset_secs <= 30);
        b.reset("u").await.unwrap();
        assert!(a.hit("u", 2, w).await.unwrap().allowed);
        a.reset("u").await.unwrap();
    }

    #[tokio::test]
    async fn hits_count_across_clients_and_forgive_takes_one_back() {
        let ns = format!("penny-test-{}", uuid::Uuid::new_v4().simple());
        let a = RedisLimiter::connect(&url(), &ns).await.unwrap();
        let b = RedisLimiter::connect(&url(), &ns).await.unwrap();
        let key = "forgive";
        let w = Duration::from_secs(30);
        assert!(a.hit(key, 2, w).await.unwrap().allowed);
        assert!(b.hit(key, 2, w).await.unwrap().allowed);
        assert!(!a.peek(key, 2, w).await.unwrap().allowed);
        b.forgive(key).await.unwrap();
        assert!(a.peek(key, 2, w).await.unwrap().allowed);
        for _ in 0..3 {
            a.forgive(key).await.unwrap();
        }
        assert_eq!(a.hit(key, 2, w).await.unwrap().remaining, 1);
        a.forgive("never-hit").await.unwrap();
        a.reset(key).await.unwrap();
        a.reset("never-hit").await.unwrap();
    }
}
