//! Row-level security: a tenant sees and touches only its own jobs.

use std::time::Duration;

use penny_queue::{NewJob, QueueError, Waiter};
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn tenant_cannot_see_or_touch_another_tenants_jobs() {
    let h = Harness::new().await;
    let other = h.add_tenant("other").await;
    let id = h
        .enqueue(NewJob::new("tools", "secret", json!({ "k": 1 })))
        .await;

    assert!(h.get_as(other, id).await.is_none());
    assert_eq!(h.counts_as(other, "tools").await, Default::default());
    assert_eq!(h.counts("tools").await.waiting, 1);

    let mut tx = h.store.tenant(other).await.unwrap();
    let touched = sqlx::query("UPDATE jobs SET payload = '{}' WHERE id = $1")
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    tx.commit().await.unwrap();
    assert_eq!(touched, 0);
    assert_eq!(h.job(id).await.payload, json!({ "k": 1 }));

    let waiter = Waiter::start(h.store.pool()).await.unwrap();
    let err = waiter
        .wait(&h.store, other, id, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::NotFound));
}

#[tokio::test]
async fn application_role_cannot_claim_directly_or_bypass_the_functions() {
    let h = Harness::new().await;
    let id = h.enqueue(NewJob::new("tools", "x", json!({}))).await;
    // Without a tenant scope the application role sees no job rows at all.
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(h.store.pool())
        .await
        .unwrap();
    assert_eq!(visible, 0);
    // The limiter's state is not the application's to change.
    let denied = sqlx::query("UPDATE job_queue_limits SET tokens = 1000")
        .execute(h.store.pool())
        .await;
    assert!(denied.is_err());
    assert!(h.get_as(h.tenant, id).await.is_some());
}
