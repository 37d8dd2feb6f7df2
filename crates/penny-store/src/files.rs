//! Uploaded files: metadata rows for objects in the uploads bucket. The client's file name
//! is kept for display only; the object key is built from ids.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct File {
    pub id: Uuid,
    pub user_id: Uuid,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, filename, mime, size, sha256, object_key, created_at";

pub struct NewFile<'a> {
    pub id: Uuid,
    pub filename: &'a str,
    pub mime: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub object_key: &'a str,
}

pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    f: NewFile<'_>,
) -> Result<File, StoreError> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO files (id, tenant_id, user_id, filename, mime, size, sha256, object_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(f.id)
    .bind(tenant)
    .bind(user)
    .bind(f.filename)
    .bind(f.mime)
    .bind(f.size)
    .bind(f.sha256)
    .bind(f.object_key)
    .fetch_one(conn)
    .await?)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<File, StoreError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM files WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Those of `ids` that exist (in this tenant), in no particular order.
pub async fn find(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<File>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM files WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// Several files at once, in the order asked; any missing id is `NotFound`.
pub async fn get_many(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<File>, StoreError> {
    let found = find(conn, ids).await?;
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|f| f.id == *id)
                .cloned()
                .ok_or(StoreError::NotFound)
        })
        .collect()
}
