//! Objects left behind by deleted rows: a trigger queues the object of every deleted
//! artifact version and upload in the deleting transaction, and [`take`] hands them to the
//! sweep that deletes them from storage.

use sqlx::{FromRow, PgConnection};

use crate::StoreError;

/// One queued object: its bucket's name and its key.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Garbage {
    pub bucket: String,
    pub object_key: String,
}

/// Takes up to `limit` queued objects, oldest first. They leave the queue when the
/// transaction commits; if it rolls back, they stay queued.
pub async fn take(conn: &mut PgConnection, limit: i32) -> Result<Vec<Garbage>, StoreError> {
    Ok(
        sqlx::query_as("SELECT bucket, object_key FROM penny_take_object_garbage($1)")
            .bind(limit)
            .fetch_all(conn)
            .await?,
    )
}

/// Queues an object again (its deletion failed).
pub async fn requeue(conn: &mut PgConnection, g: &Garbage) -> Result<(), StoreError> {
    sqlx::query("SELECT penny_requeue_object_garbage($1, $2)")
        .bind(&g.bucket)
        .bind(&g.object_key)
        .execute(conn)
        .await?;
    Ok(())
}
