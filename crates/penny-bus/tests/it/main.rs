//! The bus as its users see it: in-process, and across two instances through Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod memory;
mod proxy;
mod redis_bus;

use std::time::Duration;

use bytes::Bytes;
use penny_bus::{Lagged, Subscription};

/// The next delivery, or a failed test if none comes within 5 s.
async fn next(sub: &mut Subscription) -> Result<Option<Bytes>, Lagged> {
    tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("nothing delivered within 5 s")
}

/// The next message's text; anything else fails the test.
async fn next_text(sub: &mut Subscription) -> String {
    match next(sub).await {
        Ok(Some(payload)) => String::from_utf8(payload.to_vec()).expect("UTF-8 payload"),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// True if the subscriber gets nothing within `wait`.
async fn stays_silent(sub: &mut Subscription, wait: Duration) -> bool {
    tokio::time::timeout(wait, sub.recv()).await.is_err()
}
