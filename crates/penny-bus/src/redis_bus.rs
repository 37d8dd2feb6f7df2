//! The bus shared by every instance through Redis pub/sub (`REDIS_URL` is set).

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::hub::Hub;
use crate::{Bus, BusError, Logged, Subscription, LIVE_LOG_LEN, LIVE_LOG_TTL};

/// How long one attempt to reach Redis may take, and how long a command may wait for its
/// reply, before the bus reports itself unavailable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Two connections per process whatever the number of topics: one that publishes (a
/// `ConnectionManager`, which reconnects by itself) and one in subscribed mode, owned by
/// a background task (see `hub`). A topic is the Redis channel `{prefix}:bus:{topic}`.
///
/// Dropping the bus stops the background task; its subscribers then get `Ok(None)`.
pub struct RedisBus {
    publisher: ConnectionManager,
    prefix: String,
    hub: Hub,
}

impl RedisBus {
    /// Connects both connections, so that a wrong URL or an unreachable Redis fails at
    /// start. `capacity_per_topic` is how many messages a subscriber may fall behind
    /// before it gets `Lagged` (at least 1). Must be called inside a tokio runtime.
    pub async fn connect(
        url: &str,
        prefix: &str,
        capacity_per_topic: usize,
    ) -> Result<Self, BusError> {
        let client = redis::Client::open(url)
            .map_err(|e| BusError::Unavailable(format!("invalid Redis URL: {e}")))?;
        // First, because it makes a single attempt: an unreachable Redis fails here at once.
        let hub = Hub::start(client.clone(), capacity_per_topic).await?;
        let publisher = ConnectionManager::new_with_config(client, publisher_config())
            .await
            .map_err(|e| BusError::Unavailable(format!("connecting to Redis: {e}")))?;
        Ok(Self {
            publisher,
            prefix: prefix.to_owned(),
            hub,
        })
    }

    /// Runs one command on the publishing connection, within `RESPONSE_TIMEOUT`: while the
    /// `ConnectionManager` reconnects, commands wait for it, and a publisher must not.
    async fn command(&self, cmd: &redis::Cmd, what: &str) -> Result<(), BusError> {
        let mut conn = self.publisher.clone();
        answered(cmd.query_async::<()>(&mut conn), what).await
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}:bus:{topic}", self.prefix)
    }

    /// The Redis Stream holding `topic`'s live log.
    fn log_key(&self, topic: &str) -> String {
        format!("{}:live:{topic}", self.prefix)
    }
}

/// Waits for a command's (or pipeline's) reply within `RESPONSE_TIMEOUT`.
async fn answered(
    reply: impl std::future::Future<Output = redis::RedisResult<()>>,
    what: &str,
) -> Result<(), BusError> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, reply).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(BusError::Unavailable(format!("{what}: {e}"))),
        Err(_) => Err(BusError::Unavailable(format!(
            "{what}: no answer from Redis within {RESPONSE_TIMEOUT:?}"
        ))),
    }
}

/// Reconnects in the background after a dropped connection: one retry round of about
/// 1 s, and another round at the next command if that fails. Set explicitly because in
/// redis 0.27 the default `factor` (100) becomes backon's growth multiplier, which waits
/// up to a minute between six retries.
fn publisher_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_factor(2)
        .set_max_delay(1_000)
        .set_number_of_retries(1)
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
}

#[async_trait::async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), BusError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.channel(topic)).arg(payload.as_ref());
        self.command(&cmd, "publishing to Redis").await
    }

    /// One pipeline: the PUBLISH commands go out in order in one write, and Redis runs
    /// them in that order.
    async fn publish_many(&self, messages: Vec<(String, Bytes)>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (topic, payload) in &messages {
            pipe.cmd("PUBLISH")
                .arg(self.channel(topic))
                .arg(payload.as_ref())
                .ignore();
        }
        let mut conn = self.publisher.clone();
        answered(pipe.query_async::<()>(&mut conn), "publishing to Redis").await
    }

    /// One pipeline: per message an XADD with the message's seq as its id (`seq-0`, the
    /// stream trimmed to about `LIVE_LOG_LEN`), then its PUBLISH, so a subscriber that
    /// sees a message finds it in the log; then one PEXPIRE per stream. Redis refuses an
    /// id not above the stream's last (a message published again): that one is only
    /// published.
    async fn publish_logged(&self, messages: Vec<Logged>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut keys: Vec<String> = Vec::new();
        for m in &messages {
            let key = self.log_key(&m.topic);
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(LIVE_LOG_LEN)
                .arg(format!("{}-0", m.seq))
                .arg("e")
                .arg(m.payload.as_ref());
            pipe.cmd("PUBLISH")
                .arg(self.channel(&m.topic))
                .arg(m.payload.as_ref())
                .ignore();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        for key in &keys {
            pipe.cmd("PEXPIRE")
                .arg(key)
                .arg(LIVE_LOG_TTL.as_millis() as u64)
                .ignore();
        }
        let mut conn = self.publisher.clone();
        // Each XADD answers its id or an error of its own; only the pipeline failing as a
        // whole (Redis unreachable) is the bus failing.
        let sent = pipe.query_async::<redis::Value>(&mut conn);
        match tokio::time::timeout(RESPONSE_TIMEOUT, sent).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == redis::ErrorKind::ResponseError => Ok(()),
            Ok(Err(e)) => Err(BusError::Unavailable(format!("publishing to Redis: {e}"))),
            Err(_) => Err(BusError::Unavailable(format!(
                "publishing to Redis: no answer from Redis within {RESPONSE_TIMEOUT:?}"
            ))),
        }
    }

    async fn live_after(&self, topic: &str, seq: u64) -> Result<Vec<(u64, Bytes)>, BusError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.log_key(topic))
            .arg(format!("{}-0", seq.saturating_add(1)))
            .arg("+");
        let mut conn = self.publisher.clone();
        let entries: Vec<(String, Vec<Vec<u8>>)> =
            match tokio::time::timeout(RESPONSE_TIMEOUT, cmd.query_async(&mut conn)).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    return Err(BusError::Unavailable(format!("reading the live log: {e}")))
                }
                Err(_) => {
                    return Err(BusError::Unavailable(
                        "reading the live log: no answer from Redis".into(),
                    ))
                }
            };
        Ok(entries
            .into_iter()
            .filter_map(|(id, fields)| {
                let seq = id.split('-').next()?.parse().ok()?;
                // Fields come as [name, value]; the value is the message.
                let payload = fields.into_iter().nth(1)?;
                Some((seq, Bytes::from(payload)))
            })
            .collect())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        self.hub.subscribe(self.channel(topic)).await
    }

    /// Both connections must work: the publisher answers PING and the subscriber
    /// connection is up.
    async fn ping(&self) -> Result<(), BusError> {
        self.command(&redis::cmd("PING"), "Redis PING").await?;
        if self.hub.is_connected() {
            Ok(())
        } else {
            Err(BusError::Unavailable(
                "Redis pub/sub connection is down, reconnecting".into(),
            ))
        }
    }
}
