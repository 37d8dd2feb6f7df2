use std::time::Duration;

use bytes::Bytes;
use penny_bus::{Bus, Lagged, MemoryBus};

use crate::{next, next_text, stays_silent};

#[tokio::test]
async fn memory_bus_delivers_in_order_to_every_subscriber() {
    let bus = MemoryBus::new(256);
    let mut first = bus.subscribe("conv-1").await.unwrap();
    let mut second = bus.subscribe("conv-1").await.unwrap();

    for i in 0..100 {
        bus.publish("conv-1", Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }

    for sub in [&mut first, &mut second] {
        for i in 0..100 {
            assert_eq!(next_text(sub).await, i.to_string());
        }
    }
}

#[tokio::test]
async fn dropped_subscriber_is_removed() {
    let bus = MemoryBus::new(16);
    let first = bus.subscribe("conv-1").await.unwrap();
    let second = bus.subscribe("conv-1").await.unwrap();
    assert_eq!(bus.live_topics(), 1);

    drop(first);
    assert_eq!(bus.live_topics(), 1, "one subscriber is still there");
    drop(second);
    assert_eq!(bus.live_topics(), 0);
}

#[tokio::test]
async fn publishing_to_a_topic_nobody_follows_keeps_no_state() {
    let bus = MemoryBus::new(16);
    bus.publish("nobody", Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(bus.live_topics(), 0);
}

#[tokio::test]
async fn slow_subscriber_lags_instead_of_blocking_others() {
    let bus = MemoryBus::new(4);
    let mut fast = bus.subscribe("conv-1").await.unwrap();
    let mut slow = bus.subscribe("conv-1").await.unwrap();

    for i in 0..10 {
        // Publishing never waits for the slow subscriber.
        tokio::time::timeout(
            Duration::from_secs(1),
            bus.publish("conv-1", Bytes::from(format!("{i}"))),
        )
        .await
        .expect("publish waited")
        .unwrap();
        assert_eq!(next_text(&mut fast).await, i.to_string());
    }

    assert_eq!(next(&mut slow).await, Err(Lagged(6)));
    for i in 6..10 {
        assert_eq!(next_text(&mut slow).await, i.to_string());
    }
}

#[tokio::test]
async fn topics_are_isolated() {
    let bus = MemoryBus::new(16);
    let mut a = bus.subscribe("a").await.unwrap();
    let mut b = bus.subscribe("b").await.unwrap();

    bus.publish("a", Bytes::from_static(b"for a"))
        .await
        .unwrap();

    assert_eq!(next_text(&mut a).await, "for a");
    assert!(stays_silent(&mut b, Duration::from_millis(50)).await);
}

#[tokio::test]
async fn subscribers_see_the_end_when_the_bus_is_dropped() {
    let bus = MemoryBus::new(16);
    let mut sub = bus.subscribe("conv-1").await.unwrap();
    drop(bus);
    assert_eq!(next(&mut sub).await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_moves_to_another_task_of_a_shared_bus() {
    let bus: std::sync::Arc<dyn Bus> = std::sync::Arc::new(MemoryBus::new(16));
    let mut sub = bus.subscribe("conv-1").await.unwrap();
    let reader = tokio::spawn(async move { next_text(&mut sub).await });

    bus.publish("conv-1", Bytes::from_static(b"hello"))
        .await
        .unwrap();

    assert_eq!(reader.await.unwrap(), "hello");
}
