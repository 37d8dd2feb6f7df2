use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use penny_bus::{Bus, BusError, Lagged, RedisBus};
use redis::aio::MultiplexedConnection;

use crate::proxy::Proxy;
use crate::{next, next_text, stays_silent};

fn url() -> String {
    std::env::var("PENNY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Each test has its own channels, so tests running in parallel do not see each other.
fn prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4())
}

/// Two instances of PENNY sharing one Redis.
async fn two_instances(prefix: &str) -> (RedisBus, RedisBus) {
    let a = RedisBus::connect(&url(), prefix, 1024).await.unwrap();
    let b = RedisBus::connect(&url(), prefix, 1024).await.unwrap();
    (a, b)
}

async fn plain_connection() -> MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn numsub(conn: &mut MultiplexedConnection, channel: &str) -> u64 {
    let (_, count): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(conn)
        .await
        .unwrap();
    count
}

/// Polls until `check` holds, for up to 5 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not true within 5 s: {what}");
}

#[tokio::test]
async fn subscribers_on_one_instance_receive_everything_published_on_another_in_order() {
    let (a, b) = two_instances(&prefix()).await;
    let mut first = b.subscribe("conv-1").await.unwrap();
    let mut second = b.subscribe("conv-1").await.unwrap();

    for i in 0..500 {
        a.publish("conv-1", Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }

    for sub in [&mut first, &mut second] {
        for i in 0..500 {
            assert_eq!(next_text(sub).await, i.to_string());
        }
    }
}

#[tokio::test]
async fn a_batch_published_at_once_arrives_in_order_on_each_topic() {
    let (a, b) = two_instances(&prefix()).await;
    let mut one = b.subscribe("conv-1").await.unwrap();
    let mut two = b.subscribe("conv-2").await.unwrap();
    let batch: Vec<(String, Bytes)> = (0..300)
        .map(|i| (format!("conv-{}", 1 + i % 2), Bytes::from(format!("{i}"))))
        .collect();
    a.publish_many(batch).await.unwrap();
    a.publish_many(Vec::new()).await.unwrap();
    for i in (0..300).step_by(2) {
        assert_eq!(next_text(&mut one).await, i.to_string());
        assert_eq!(next_text(&mut two).await, (i + 1).to_string());
    }
    assert!(stays_silent(&mut one, Duration::from_millis(100)).await);
}

#[tokio::test]
async fn a_publish_right_after_subscribe_is_never_lost() {
    let (a, b) = two_instances(&prefix()).await;
    for i in 0..100 {
        let topic = format!("conv-{i}");
        let mut sub = b.subscribe(&topic).await.unwrap();
        a.publish(&topic, Bytes::from_static(b"first"))
            .await
            .unwrap();
        assert_eq!(next_text(&mut sub).await, "first");
    }
}

#[tokio::test]
async fn subscribing_again_while_the_unsubscribe_is_in_flight_still_delivers() {
    let (a, b) = two_instances(&prefix()).await;
    for i in 0..50 {
        drop(b.subscribe("conv-1").await.unwrap());
        let mut sub = b.subscribe("conv-1").await.unwrap();
        let text = format!("round {i}");
        a.publish("conv-1", Bytes::from(text.clone()))
            .await
            .unwrap();
        assert_eq!(next_text(&mut sub).await, text);
    }
}

#[tokio::test]
async fn the_last_dropped_subscriber_unsubscribes_the_redis_channel() {
    let prefix = prefix();
    let channel = format!("{prefix}:bus:conv-1");
    let bus = RedisBus::connect(&url(), &prefix, 16).await.unwrap();
    let mut conn = plain_connection().await;

    let first = bus.subscribe("conv-1").await.unwrap();
    let second = bus.subscribe("conv-1").await.unwrap();
    assert_eq!(
        numsub(&mut conn, &channel).await,
        1,
        "local subscribers share one Redis subscription"
    );

    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(numsub(&mut conn, &channel).await, 1);

    drop(second);
    eventually("the channel has no subscriber", || {
        let mut conn = conn.clone();
        let channel = channel.clone();
        async move { numsub(&mut conn, &channel).await == 0 }
    })
    .await;
}

#[tokio::test]
async fn topics_and_prefixes_are_isolated() {
    let prefix = prefix();
    let (a, b) = two_instances(&prefix).await;
    let other_deployment = RedisBus::connect(&url(), &format!("{prefix}-other"), 16)
        .await
        .unwrap();
    let mut on_a = b.subscribe("a").await.unwrap();
    let mut on_b = b.subscribe("b").await.unwrap();
    let mut elsewhere = other_deployment.subscribe("a").await.unwrap();

    a.publish("a", Bytes::from_static(b"to a")).await.unwrap();
    a.publish("b", Bytes::from_static(b"to b")).await.unwrap();
    a.publish("a", Bytes::from_static(b"end")).await.unwrap();
    other_deployment
        .publish("a", Bytes::from_static(b"own"))
        .await
        .unwrap();

    // Redis delivers in order, so anything leaked would arrive before these.
    assert_eq!(next_text(&mut on_a).await, "to a");
    assert_eq!(next_text(&mut on_a).await, "end");
    assert_eq!(next_text(&mut on_b).await, "to b");
    assert_eq!(next_text(&mut elsewhere).await, "own");
    assert!(stays_silent(&mut on_b, Duration::from_millis(100)).await);
}

#[tokio::test]
async fn one_pubsub_connection_serves_every_topic() {
    let proxy = Proxy::start(&url()).await;
    let prefix = prefix();
    let bus = RedisBus::connect(&proxy.url, &prefix, 16).await.unwrap();
    let publisher = RedisBus::connect(&url(), &prefix, 16).await.unwrap();

    let mut subs = Vec::new();
    for i in 0..50 {
        subs.push(bus.subscribe(&format!("conv-{i}")).await.unwrap());
    }
    for i in 0..50 {
        publisher
            .publish(&format!("conv-{i}"), Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        assert_eq!(next_text(sub).await, i.to_string());
    }

    assert_eq!(proxy.connections(), 2, "one to publish, one to subscribe");
}

/// Kills, from the server side, the connection of type `kind` (`pubsub` or `normal`) that
/// went through `proxy`.
async fn kill_connection(proxy: &Proxy, kind: &str) {
    let mut conn = plain_connection().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg(kind)
        .query_async(&mut conn)
        .await
        .unwrap();
    let ours = proxy.upstream_addrs();
    let ids: Vec<String> = clients
        .lines()
        .filter_map(|line| {
            let fields: HashMap<&str, &str> = line
                .split(' ')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let addr: SocketAddr = fields.get("addr")?.parse().ok()?;
            ours.contains(&addr)
                .then(|| fields.get("id").map(|id| id.to_string()))?
        })
        .collect();
    assert_eq!(ids.len(), 1, "exactly one {kind} connection of ours");
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&ids[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1);
}

#[tokio::test]
async fn subscribers_get_lagged_and_then_live_messages_after_the_pubsub_connection_drops() {
    let proxy = Proxy::start(&url()).await;
    let prefix = prefix();
    let a = RedisBus::connect(&url(), &prefix, 16).await.unwrap();
    let b = RedisBus::connect(&proxy.url, &prefix, 16).await.unwrap();
    let mut sub = b.subscribe("conv-1").await.unwrap();
    let mut other = b.subscribe("conv-2").await.unwrap();
    a.publish("conv-1", Bytes::from_static(b"before"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut sub).await, "before");

    // Redis goes away for a while: the bus says so and refuses new subscribers.
    proxy.refuse(true);
    kill_connection(&proxy, "pubsub").await;
    eventually("ping reports the outage", || async {
        b.ping().await.is_err()
    })
    .await;
    assert!(matches!(
        b.subscribe("conv-3").await,
        Err(BusError::Unavailable(_))
    ));

    // Back: every live topic is subscribed again, and its subscribers learn of the gap.
    proxy.refuse(false);
    assert_eq!(next(&mut sub).await, Err(Lagged(0)));
    assert_eq!(next(&mut other).await, Err(Lagged(0)));
    b.ping().await.unwrap();

    a.publish("conv-1", Bytes::from_static(b"after"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut sub).await, "after");

    // A subscriber that arrives after the reconnect has missed nothing.
    let mut newcomer = b.subscribe("conv-2").await.unwrap();
    a.publish("conv-2", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut newcomer).await, "hello");
    assert_eq!(next_text(&mut other).await, "hello");
}

#[tokio::test]
async fn publishing_recovers_after_the_publish_connection_drops() {
    let proxy = Proxy::start(&url()).await;
    let prefix = prefix();
    let a = RedisBus::connect(&proxy.url, &prefix, 16).await.unwrap();
    let b = RedisBus::connect(&url(), &prefix, 16).await.unwrap();
    let mut sub = b.subscribe("conv-1").await.unwrap();
    // Redis lists a connection with no subscription as `normal`: this tells them apart.
    let _listening = a.subscribe("other").await.unwrap();

    kill_connection(&proxy, "normal").await;
    // The first publish may report the dead connection; the next ones go through.
    eventually("publishing works again", || async {
        a.publish("conv-1", Bytes::from_static(b"retry"))
            .await
            .is_ok()
    })
    .await;
    a.publish("conv-1", Bytes::from_static(b"last"))
        .await
        .unwrap();

    loop {
        match next_text(&mut sub).await.as_str() {
            "retry" => continue,
            last => break assert_eq!(last, "last"),
        }
    }
}

#[tokio::test]
async fn subscribers_see_the_end_when_the_bus_is_dropped() {
    let bus = RedisBus::connect(&url(), &prefix(), 16).await.unwrap();
    let mut sub = bus.subscribe("conv-1").await.unwrap();
    drop(bus);
    assert_eq!(next(&mut sub).await, Ok(None));
}

#[tokio::test]
async fn connect_fails_when_redis_is_unreachable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = RedisBus::connect(&format!("redis://127.0.0.1:{port}"), &prefix(), 16).await;
    assert!(matches!(result, Err(BusError::Unavailable(_))));
}
