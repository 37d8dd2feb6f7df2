//! The `ingest` queue's job handler: one job per version of a document. It reads the
//! file from object storage, extracts its text on a blocking thread, cuts it into
//! passages, embeds them in batches and stores each batch under the version's generation
//! (invisible to searches); the transaction that completes the job makes that version the
//! document's (`ready`) and drops any other. So a document is searchable whole or not
//! at all, a crash mid-way leaves nothing half-indexed (the retry starts over), and the
//! memory an ingest holds is one file, its text and one batch of vectors.
//!
//! Between batches the job checks the document is still wanted: a cancel, a delete or a
//! newer version stops it within one batch.
//!
//! The embedder is the one the collection names when the ingest begins (the local model
//! or a tenant's embedding model, [`Embedders`]); the version is marked embedded in the
//! collection's epoch read then, so a change of model (which queues a new version of
//! every document) never leaves vectors of the old model counted as the new one's.

use std::collections::HashMap;
use std::sync::Mutex;

use penny_objects::{Bucket, ObjectKey, Objects};
use penny_queue::{Job, JobContext, JobFailure, JobHandler, QueueError};
use penny_store::knowledge::{self, NewChunk};
use penny_store::{Store, StoreError, TenantId, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::chunk::{self, Chunk};
use crate::embedders::{Embedders, ResolveError};
use crate::extract::{self, Kind};

/// The queue ingest jobs go through (its own, so chat tools never wait behind a big PDF).
pub const QUEUE: &str = "ingest";
/// The job's name in that queue.
pub const JOB_NAME: &str = "ingest_document";
/// Passages embedded and stored per step.
const BATCH: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub document_id: Uuid,
    pub version: i32,
}

pub struct IngestJobs {
    store: Store,
    objects: Objects,
    embedders: Embedders,
    /// What a finished run counted (pages, passages, epoch), for the completing transaction.
    counted: Mutex<HashMap<Uuid, Counted>>,
}

type Counted = (i32, i32, i32);

impl IngestJobs {
    pub fn new(store: Store, objects: Objects, embedders: Embedders) -> Self {
        IngestJobs {
            store,
            objects,
            embedders,
            counted: Mutex::default(),
        }
    }
}

enum Stop {
    /// The version is no longer wanted; nothing to report.
    NotWanted,
    Failed(JobFailure),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Failed(JobFailure::retryable(format!("database: {e}")))
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::from(StoreError::from(e))
    }
}

fn permanent(reason: impl std::fmt::Display) -> Stop {
    Stop::Failed(JobFailure::permanent(reason.to_string()))
}

impl IngestJobs {
    async fn tx(&self, tenant: TenantId) -> Result<TenantTx, Stop> {
        Ok(self.store.tenant(tenant).await?)
    }

    async fn ingest(&self, tenant: TenantId, p: &Payload) -> Result<Counted, Stop> {
        let mut db = self.tx(tenant).await?;
        let Some(doc) = knowledge::begin_ingest(&mut db, p.document_id, p.version).await? else {
            return Err(Stop::NotWanted);
        };
        let (model, dims, epoch) =
            knowledge::collection_embedding(&mut db, doc.collection_id).await?;
        let embedder = match self.embedders.resolve(&mut db, &model).await {
            Ok(e) => e,
            Err(ResolveError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(permanent(e)),
        };
        let file = knowledge::file_source(&mut db, &doc).await?;
        db.commit().await?;
        if dims as usize != embedder.dims() {
            return Err(permanent(format!(
                "the collection is embedded with {model} at {dims} dimensions, but the model \
                 now has {}; set the collection's embedding model again",
                embedder.dims()
            )));
        }
        let (key, filename, mime) = file.ok_or_else(|| permanent("the document's file is gone"))?;
        let key: ObjectKey = key.parse().map_err(permanent)?;
        let bytes = self
            .objects
            .get_bytes(Bucket::Uploads, &key)
            .await
            .map_err(|e| Stop::Failed(JobFailure::retryable(format!("object storage: {e}"))))?;

        let extracted = tokio::task::spawn_blocking(move || {
            let kind = Kind::detect(&bytes, &mime, &filename)?;
            extract::extract(&bytes, kind)
        })
        .await
        .map_err(|_| permanent("the file could not be read"))?
        .map_err(permanent)?;
        let pages = extracted.pages.len() as i32;
        let chunks: Vec<Chunk> = chunk::chunk(&extracted.pages);
        drop(extracted);

        let mut db = self.tx(tenant).await?;
        knowledge::ingest_progress(&mut db, doc.id, p.version, pages, 0, 0).await?;
        db.commit().await?;

        let mut done = 0usize;
        for batch in chunks.chunks(BATCH) {
            let mut db = self.tx(tenant).await?;
            if !knowledge::still_wanted(&mut db, doc.id, p.version).await? {
                return Err(Stop::NotWanted);
            }
            db.commit().await?;
            let texts = batch.iter().map(Chunk::embedding_text).collect();
            let vectors = embedder.embed(texts).await.map_err(|e| {
                Stop::Failed(if e.retryable() {
                    JobFailure::retryable(e.to_string())
                } else {
                    JobFailure::permanent(e.to_string())
                })
            })?;
            let rows: Vec<NewChunk<'_>> = batch
                .iter()
                .zip(&vectors)
                .map(|(c, v)| NewChunk {
                    ordinal: c.ordinal as i32,
                    page: c.page as i32,
                    start: c.start as i32,
                    end: c.end as i32,
                    heading: &c.heading,
                    content: &c.content,
                    embedding: v,
                })
                .collect();
            done += batch.len();
            let page_done = batch.last().map_or(0, |c| c.page as i32);
            let mut db = self.tx(tenant).await?;
            knowledge::insert_chunks(&mut db, tenant, doc.collection_id, doc.id, p.version, &rows)
                .await?;
            knowledge::ingest_progress(&mut db, doc.id, p.version, pages, page_done, done as i32)
                .await?;
            db.commit().await?;
        }
        Ok((pages, chunks.len() as i32, epoch))
    }

    /// Marks the version failed (its reason shown on the document) and drops its chunks.
    async fn fail(&self, tenant: TenantId, p: &Payload, reason: &str) {
        let ended = async {
            let mut db = self.store.tenant(tenant).await?;
            knowledge::end_ingest(&mut db, p.document_id, p.version, "failed", Some(reason))
                .await?;
            db.commit().await.map_err(StoreError::from)
        };
        if let Err(e) = ended.await {
            tracing::warn!(error = %e, document = %p.document_id, "marking a document failed");
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for IngestJobs {
    async fn run(&self, job: &Job, _ctx: &JobContext) -> Result<Value, JobFailure> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobFailure::permanent(format!("bad job payload: {e}")))?;
        match self.ingest(job.tenant_id, &p).await {
            Ok((pages, chunks, epoch)) => {
                if let Ok(mut counted) = self.counted.lock() {
                    counted.insert(job.id.0, (pages, chunks, epoch));
                }
                Ok(json!({"documentId": p.document_id, "version": p.version,
                          "pages": pages, "chunks": chunks}))
            }
            Err(Stop::NotWanted) => {
                Ok(json!({"documentId": p.document_id, "version": p.version, "stopped": true}))
            }
            Err(Stop::Failed(f)) => {
                // The last attempt's failure is the document's.
                if !f.retryable || job.attempts >= job.max_attempts {
                    self.fail(job.tenant_id, &p, &f.message).await;
                }
                Err(f)
            }
        }
    }

    async fn commit(&self, tx: &mut TenantTx, job: &Job, output: &Value) -> Result<(), QueueError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| QueueError::Commit(format!("bad job payload: {e}")))?;
        let failed = |e: StoreError| QueueError::Commit(format!("finishing the ingest: {e}"));
        if output.get("stopped").is_some() {
            return knowledge::end_ingest(tx, p.document_id, p.version, "cancelled", None)
                .await
                .map_err(failed);
        }
        let counted = self
            .counted
            .lock()
            .ok()
            .and_then(|mut c| c.remove(&job.id.0));
        // This process did not run the attempt (it died between run and commit): the
        // retry starts over rather than trust counts it did not make.
        let (pages, chunks, epoch) =
            counted.ok_or_else(|| QueueError::Commit("the ingest's counts are gone".into()))?;
        knowledge::finish_ingest(tx, p.document_id, p.version, pages, chunks, epoch)
            .await
            .map_err(failed)?;
        Ok(())
    }
}
