//! Storing artifacts: the bytes go to object storage first (idempotent: a retried job
//! just writes a new object), the rows in the caller's transaction, so an artifact row
//! never points at a missing object.

use bytes::Bytes;
use penny_objects::{Bucket, ObjectKey, Objects};
use penny_store::artifacts::{self, Artifact, Content, Origin};
use penny_store::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ToolError;

/// An artifact version whose bytes are stored but whose row is not written yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Staged {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub version: i32,
    /// Names this staging's object: two writers racing for the same version write two
    /// objects, so the row that wins never points at the loser's bytes. (Nil for stagings
    /// recorded before it existed: the key without it.)
    #[serde(default)]
    pub object: Uuid,
}

impl Staged {
    fn content(&self, tenant: TenantId) -> Result<Content, ToolError> {
        Ok(Content {
            mime: self.mime.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            object_key: key(tenant, &self.kind, self.id, self.version, self.object)?
                .as_str()
                .to_string(),
        })
    }
}

/// `tenants/{tenant}/{type}/{artifactId}.v{version}.{object}` in the artifacts bucket.
pub fn key(
    tenant: TenantId,
    kind: &str,
    id: Uuid,
    version: i32,
    object: Uuid,
) -> Result<ObjectKey, ToolError> {
    let name = if object.is_nil() {
        format!("{id}.v{version}")
    } else {
        format!("{id}.v{version}.{}", object.simple())
    };
    Ok(ObjectKey::new(tenant.0, kind, &name)?)
}

/// Which artifact version is being stored, and what it is.
pub struct Spec<'a> {
    pub id: Uuid,
    pub version: i32,
    pub kind: &'a str,
    pub title: &'a str,
    pub mime: &'a str,
}

impl<'a> Spec<'a> {
    /// The first version of a new artifact.
    pub fn new(kind: &'a str, title: &'a str, mime: &'a str) -> Self {
        Spec {
            id: Uuid::new_v4(),
            version: 1,
            kind,
            title,
            mime,
        }
    }
}

/// Stores the bytes of one artifact version.
pub async fn stage(
    objects: &Objects,
    tenant: TenantId,
    spec: Spec<'_>,
    body: Bytes,
) -> Result<Staged, ToolError> {
    let Spec {
        id,
        version,
        kind,
        title,
        mime,
    } = spec;
    if !artifacts::TYPES.contains(&kind) {
        return Err(ToolError::Invalid {
            field: "type".into(),
            message: format!("must be one of {}", artifacts::TYPES.join(", ")),
        });
    }
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(ToolError::Invalid {
            field: "title".into(),
            message: "must be 1-300 characters".into(),
        });
    }
    let object = Uuid::new_v4();
    let put = objects
        .put(
            Bucket::Artifacts,
            &key(tenant, kind, id, version, object)?,
            body,
        )
        .await?;
    Ok(Staged {
        id,
        kind: kind.to_string(),
        title: title.to_string(),
        mime: mime.to_string(),
        size: i64::try_from(put.size).unwrap_or(i64::MAX),
        sha256: put.sha256,
        version,
        object,
    })
}

/// Writes the row of a staged first version.
pub async fn record(
    conn: &mut PgConnection,
    tenant: TenantId,
    staged: &Staged,
    origin: &Origin,
) -> Result<Artifact, ToolError> {
    let content = staged.content(tenant)?;
    Ok(artifacts::create(
        conn,
        tenant,
        staged.id,
        &staged.kind,
        &staged.title,
        origin,
        &content,
    )
    .await?)
}

/// Writes the row of a staged later version; fails if someone else added it first.
pub async fn record_version(
    conn: &mut PgConnection,
    tenant: TenantId,
    staged: &Staged,
    created_by: Option<Uuid>,
) -> Result<Artifact, ToolError> {
    let content = staged.content(tenant)?;
    let artifact = artifacts::add_version(
        conn,
        tenant,
        staged.id,
        Some(&staged.title),
        created_by,
        &content,
    )
    .await?;
    if artifact.latest_version != staged.version {
        return Err(ToolError::Store(penny_store::StoreError::Conflict(
            "a newer version of this artifact",
        )));
    }
    Ok(artifact)
}

/// The `artifact.created` event a conversation's clients get.
pub fn created_event(a: &Staged, message: Option<Uuid>, job: Option<Uuid>) -> serde_json::Value {
    serde_json::json!({
        "type": "artifact.created",
        "artifactId": a.id,
        "artifactType": a.kind,
        "title": a.title,
        "mime": a.mime,
        "size": a.size,
        "version": a.version,
        "messageId": message,
        "jobId": job,
    })
}
