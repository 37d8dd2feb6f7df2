//! Artifacts (charts, tables, documents…) and their versions. An update adds a version;
//! old versions stay readable. The bytes of each version are one object in storage.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{StoreError, TenantId};

/// The kinds of artifact the web app knows how to show.
pub const TYPES: [&str; 10] = [
    "markdown",
    "table",
    "chart",
    "vega-lite",
    "mermaid",
    "code",
    "document",
    "image",
    "dashboard",
    "file",
];

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub title: String,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: i32,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    #[serde(skip)]
    pub object_key: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, conversation_id, message_id, job_id, created_by, type, title, \
     latest_version, created_at, updated_at";
const VERSION_COLUMNS: &str = "version, mime, size, sha256, object_key, created_by, created_at";

/// Where a new artifact comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

/// The stored bytes of one version.
#[derive(Debug, Clone)]
pub struct Content {
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub object_key: String,
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_check_violation() {
            return StoreError::Invalid {
                field: "type",
                message: format!(
                    "must be one of {}; title 1-300 characters",
                    TYPES.join(", ")
                ),
            };
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound;
        }
    }
    StoreError::Database(e)
}

/// Creates artifact `id` with its first version.
pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    kind: &str,
    title: &str,
    origin: &Origin,
    content: &Content,
) -> Result<Artifact, StoreError> {
    let artifact: Artifact = sqlx::query_as(&format!(
        "INSERT INTO artifacts (id, tenant_id, conversation_id, message_id, job_id, created_by, type, title) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(origin.conversation_id)
    .bind(origin.message_id)
    .bind(origin.job_id)
    .bind(origin.created_by)
    .bind(kind)
    .bind(title)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    insert_version(conn, tenant, id, 1, origin.created_by, content).await?;
    Ok(artifact)
}

/// Adds version `latest + 1` to artifact `id` (optionally retitled) and returns it.
pub async fn add_version(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    title: Option<&str>,
    created_by: Option<Uuid>,
    content: &Content,
) -> Result<Artifact, StoreError> {
    let artifact: Artifact = sqlx::query_as(&format!(
        "UPDATE artifacts SET latest_version = latest_version + 1, title = coalesce($2, title), \
         updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(title)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)?;
    insert_version(
        conn,
        tenant,
        id,
        artifact.latest_version,
        created_by,
        content,
    )
    .await?;
    Ok(artifact)
}

/// The version number the next update of `id` will get (for naming its object).
pub async fn next_version(conn: &mut PgConnection, id: Uuid) -> Result<i32, StoreError> {
    let latest: i32 = sqlx::query_scalar("SELECT latest_version FROM artifacts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(latest + 1)
}

async fn insert_version(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    version: i32,
    created_by: Option<Uuid>,
    c: &Content,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO artifact_versions (tenant_id, artifact_id, version, mime, size, sha256, object_key, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(id)
    .bind(version)
    .bind(&c.mime)
    .bind(c.size)
    .bind(&c.sha256)
    .bind(&c.object_key)
    .bind(created_by)
    .execute(conn)
    .await
    .map_err(|e| StoreError::unique(e, "this artifact version"))?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Artifact, StoreError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM artifacts WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Artifacts of a conversation, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    conversation: Uuid,
    limit: i64,
) -> Result<Vec<Artifact>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM artifacts WHERE conversation_id = $1 ORDER BY created_at, id LIMIT $2"
    ))
    .bind(conversation)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The newest artifacts `user` created.
pub async fn list_created_by(
    conn: &mut PgConnection,
    user: Uuid,
    limit: i64,
) -> Result<Vec<Artifact>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM artifacts WHERE created_by = $1 ORDER BY created_at DESC, id LIMIT $2"
    ))
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn versions(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Version>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM artifact_versions WHERE artifact_id = $1 ORDER BY version"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// One version of `id`; `None` means the latest.
pub async fn version(
    conn: &mut PgConnection,
    id: Uuid,
    version: Option<i32>,
) -> Result<Version, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM artifact_versions v WHERE artifact_id = $1 AND \
         version = coalesce($2, (SELECT latest_version FROM artifacts WHERE id = $1))"
    ))
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}
