//! Deletes from object storage what deleted rows left behind (queued by triggers in
//! `object_garbage`, see migration 0011): artifacts of deleted or expired conversations,
//! uploads of deleted users and tenants. Each batch is taken and deleted in one
//! transaction, so a sweep that dies leaves its batch queued for the next.

use penny_objects::{Bucket, ObjectKey, Objects};
use penny_store::garbage::{self, Garbage};
use penny_store::{Store, StoreError};

/// Objects taken per transaction.
const BATCH: i32 = 200;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub deleted: usize,
    /// Deletions that failed and were queued again.
    pub failed: usize,
}

/// Deletes every queued object; stops after a batch in which every deletion failed (the
/// storage is down: the next sweep retries).
pub async fn sweep(store: &Store, objects: &Objects) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    loop {
        let mut tx = store.begin().await?;
        let batch = garbage::take(&mut tx, BATCH).await?;
        if batch.is_empty() {
            tx.commit().await?;
            return Ok(swept);
        }
        let mut failed = 0;
        for g in &batch {
            let Some((bucket, key)) = locate(g) else {
                // Not a key PENNY writes: nothing it could delete, now or later.
                tracing::error!(bucket = %g.bucket, key = %g.object_key, "an orphaned object has an invalid key; dropped");
                continue;
            };
            if let Err(e) = objects.delete(bucket, &key).await {
                tracing::warn!(bucket = %g.bucket, key = %g.object_key, error = %e, "deleting an orphaned object failed; queued again");
                garbage::requeue(&mut tx, g).await?;
                failed += 1;
            }
        }
        tx.commit().await?;
        swept.deleted += batch.len() - failed;
        swept.failed += failed;
        if failed == batch.len() {
            return Ok(swept);
        }
    }
}

fn locate(g: &Garbage) -> Option<(Bucket, ObjectKey)> {
    let bucket = Bucket::ALL.into_iter().find(|b| b.name() == g.bucket)?;
    Some((bucket, g.object_key.parse().ok()?))
}
