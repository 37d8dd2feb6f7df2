//! [`Objects`]: the operations on the four buckets, over a local folder or S3.

use std::fmt;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};
use sha2::{Digest, Sha256};

use crate::{Bucket, KeyPrefix, ObjectKey, ObjectsConfig, ObjectsError};

/// Size of each part of a multipart upload (S3's minimum for all parts but the last). A
/// [`Objects::put_stream`] body shorter than this is stored with one plain PUT.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts uploaded at once by one `put_stream`; it bounds memory to about
/// `(UPLOAD_CONCURRENCY + 1) * PART_SIZE` per upload.
const UPLOAD_CONCURRENCY: usize = 2;
/// Chunk size when streaming a local file (object_store's own is 8 KiB).
const LOCAL_READ_CHUNK: usize = 64 * 1024;

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutInfo {
    pub size: u64,
    /// SHA-256 of the body, lower-case hex.
    pub sha256: String,
    /// The store's entity tag, if it gives one.
    pub e_tag: Option<String>,
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub e_tag: Option<String>,
    pub last_modified: SystemTime,
}

impl From<&ObjectMeta> for ObjectInfo {
    fn from(meta: &ObjectMeta) -> Self {
        Self {
            size: meta.size,
            e_tag: meta.e_tag.clone(),
            last_modified: meta.last_modified.into(),
        }
    }
}

/// An object's body, read as it is sent on (for a streaming HTTP response).
pub type ObjectStream = BoxStream<'static, Result<Bytes, ObjectsError>>;

/// An object being read: its metadata and its body.
pub struct StoredObject {
    pub info: ObjectInfo,
    pub body: ObjectStream,
}

impl fmt::Debug for StoredObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredObject")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The object storage of one PENNY instance: four buckets on one backend. Cheap to clone.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<Inner>,
}

struct Inner {
    /// Indexed by [`Bucket::index`].
    buckets: [BucketStore; 4],
    /// The folder or the endpoint, for error messages.
    location: String,
}

struct BucketStore {
    /// The real bucket (or folder) name, with any configured prefix.
    name: String,
    store: Arc<dyn ObjectStore>,
    /// What [`Objects::check`] looks at.
    probe: Probe,
}

enum Probe {
    Local(PathBuf),
    S3(Arc<AmazonS3>),
}

impl fmt::Debug for Objects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objects")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

impl Objects {
    /// Opens the backend. For a local root, creates the bucket folders; for S3, only checks
    /// the settings (no request is made: see [`Objects::check`]).
    pub fn new(config: &ObjectsConfig) -> Result<Self, ObjectsError> {
        let location = config.location();
        let config_err = |reason: String| ObjectsError::Config {
            location: location.clone(),
            reason,
        };
        let open = |bucket: Bucket| -> Result<BucketStore, ObjectsError> {
            match config {
                ObjectsConfig::Local { root } => open_local(root, bucket).map_err(config_err),
                ObjectsConfig::S3 { .. } => open_s3(config, bucket).map_err(config_err),
            }
        };
        let [a, u, e, b] = Bucket::ALL;
        Ok(Self {
            inner: Arc::new(Inner {
                buckets: [open(a)?, open(u)?, open(e)?, open(b)?],
                location,
            }),
        })
    }

    /// The folder or endpoint objects go to (no secret in it), for logs.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The real name of `bucket` on the backend, with any configured prefix.
    pub fn bucket_name(&self, bucket: Bucket) -> &str {
        &self.bucket(bucket).name
    }

    /// Stores `body` under `key`, replacing any object there.
    pub async fn put(
        &self,
        bucket: Bucket,
        key: &ObjectKey,
        body: Bytes,
    ) -> Result<PutInfo, ObjectsError> {
        let sha256 = hex::encode(Sha256::digest(&body));
        let size = body.len() as u64;
        let b = self.bucket(bucket);
        let result = b
            .store
            .put(&path(key), body.into())
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?;
        Ok(PutInfo {
            size,
            sha256,
            e_tag: result.e_tag,
        })
    }

    /// Stores a body that arrives in chunks, without holding it all in memory: the first
    /// [`PART_SIZE`] bytes are buffered, and a longer body goes up as a multipart upload
    /// of `PART_SIZE` parts. Size and SHA-256 are computed on the way.
    ///
    /// If the body fails, the upload is aborted and nothing is stored. If the returned
    /// future is dropped mid-way, S3 keeps the incomplete upload until the bucket's
    /// lifecycle rule for incomplete multipart uploads removes it.
    pub async fn put_stream<S, E>(
        &self,
        bucket: Bucket,
        key: &ObjectKey,
        body: S,
    ) -> Result<PutInfo, ObjectsError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        let mut body = pin!(body);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut next_chunk = async || -> Result<Option<Bytes>, ObjectsError> {
            match body.next().await {
                None => Ok(None),
                Some(Err(e)) => Err(ObjectsError::Body(e.into())),
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    Ok(Some(chunk))
                }
            }
        };

        let store = &self.bucket(bucket).store;
        let location = path(key);
        let mut first_part = Vec::new();
        let mut buffered = 0;
        while buffered < PART_SIZE {
            let Some(chunk) = next_chunk().await? else {
                let payload: PutPayload = first_part.into_iter().collect();
                let result = store
                    .put(&location, payload)
                    .await
                    .map_err(|e| self.error(bucket, key.as_str(), e))?;
                return Ok(finish(size, hasher, result.e_tag));
            };
            buffered += chunk.len();
            first_part.push(chunk);
        }

        let upload = store
            .put_multipart(&location)
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        for chunk in first_part {
            writer.put(chunk);
        }
        let outcome = async {
            loop {
                writer
                    .wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(|e| self.error(bucket, key.as_str(), e))?;
                match next_chunk().await? {
                    Some(chunk) => writer.put(chunk),
                    None => return Ok(()),
                }
            }
        }
        .await;
        if let Err(e) = outcome {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(bucket = %bucket, key = %key, error = %abort, "aborting a multipart upload failed");
            }
            return Err(e);
        }
        let result = writer
            .finish()
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?;
        Ok(finish(size, hasher, result.e_tag))
    }

    /// Opens an object for reading; the body is streamed, never buffered whole.
    pub async fn get(&self, bucket: Bucket, key: &ObjectKey) -> Result<StoredObject, ObjectsError> {
        let result = self
            .bucket(bucket)
            .store
            .get(&path(key))
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?;
        let info = ObjectInfo::from(&result.meta);
        let body = match result.payload {
            GetResultPayload::File(file, _) => local_file_stream(file, result.range),
            GetResultPayload::Stream(stream) => stream,
        };
        let this = self.clone();
        let key_str = key.as_str().to_owned();
        let body = body
            .map_err(move |e| this.error(bucket, &key_str, e))
            .boxed();
        Ok(StoredObject { info, body })
    }

    /// Reads a whole object into memory; for small objects only.
    pub async fn get_bytes(&self, bucket: Bucket, key: &ObjectKey) -> Result<Bytes, ObjectsError> {
        self.bucket(bucket)
            .store
            .get(&path(key))
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?
            .bytes()
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))
    }

    pub async fn head(&self, bucket: Bucket, key: &ObjectKey) -> Result<ObjectInfo, ObjectsError> {
        let meta = self
            .bucket(bucket)
            .store
            .head(&path(key))
            .await
            .map_err(|e| self.error(bucket, key.as_str(), e))?;
        Ok(ObjectInfo::from(&meta))
    }

    /// Deletes an object. Deleting one that does not exist succeeds, as on S3, so a
    /// retried delete is harmless.
    pub async fn delete(&self, bucket: Bucket, key: &ObjectKey) -> Result<(), ObjectsError> {
        match self.bucket(bucket).store.delete(&path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(bucket, key.as_str(), e)),
        }
    }

    /// Deletes every object under `prefix` (e.g. all of a tenant's objects when the tenant
    /// is deleted) and returns how many there were. Other tenants' objects are never
    /// touched: prefixes match whole path segments.
    pub async fn delete_prefix(
        &self,
        bucket: Bucket,
        prefix: &KeyPrefix,
    ) -> Result<u64, ObjectsError> {
        let store = &self.bucket(bucket).store;
        let prefix_path = Path::from(prefix.as_str().trim_end_matches('/'));
        let locations = store
            .list(Some(&prefix_path))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = store.delete_stream(locations);
        let mut count = 0u64;
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => count += 1,
                // Deleted by someone else meanwhile: just as good.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(bucket, prefix.as_str(), e)),
            }
        }
        tracing::info!(bucket = %bucket, prefix = %prefix, count, "deleted objects under prefix");
        Ok(count)
    }

    /// Readiness: every bucket exists and can be listed with these credentials. The error
    /// names the bucket and the folder or endpoint.
    pub async fn check(&self) -> Result<(), ObjectsError> {
        for bucket in Bucket::ALL {
            let b = self.bucket(bucket);
            let storage_err = |source| ObjectsError::Storage {
                bucket: b.name.clone(),
                location: self.inner.location.clone(),
                source,
            };
            match &b.probe {
                Probe::Local(dir) => {
                    if !dir.is_dir() {
                        return Err(ObjectsError::Config {
                            location: self.inner.location.clone(),
                            reason: format!("bucket folder {} is missing", dir.display()),
                        });
                    }
                    if let Some(Err(e)) = b.store.list(None).next().await {
                        return Err(storage_err(e));
                    }
                }
                // One key at most: the probe's cost does not grow with the bucket.
                Probe::S3(s3) => {
                    let opts = PaginatedListOptions {
                        max_keys: Some(1),
                        ..Default::default()
                    };
                    s3.list_paginated(None, opts).await.map_err(storage_err)?;
                }
            }
        }
        Ok(())
    }

    fn bucket(&self, bucket: Bucket) -> &BucketStore {
        &self.inner.buckets[bucket.index()]
    }

    fn error(&self, bucket: Bucket, key: &str, e: object_store::Error) -> ObjectsError {
        let name = self.bucket(bucket).name.clone();
        match e {
            object_store::Error::NotFound { .. } => ObjectsError::NotFound {
                bucket: name,
                key: key.to_owned(),
            },
            source => ObjectsError::Storage {
                bucket: name,
                location: self.inner.location.clone(),
                source,
            },
        }
    }
}

fn path(key: &ObjectKey) -> Path {
    // ObjectKey's segments are already restricted to characters Path keeps as they are.
    Path::from(key.as_str())
}

fn finish(size: u64, hasher: Sha256, e_tag: Option<String>) -> PutInfo {
    PutInfo {
        size,
        sha256: hex::encode(hasher.finalize()),
        e_tag,
    }
}

fn open_local(root: &std::path::Path, bucket: Bucket) -> Result<BucketStore, String> {
    let dir = root.join(bucket.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let store = LocalFileSystem::new_with_prefix(&dir)
        .map_err(|e| e.to_string())?
        // Removes a tenant's emptied folders after deletes.
        .with_automatic_cleanup(true);
    Ok(BucketStore {
        name: bucket.name().to_owned(),
        store: Arc::new(store),
        probe: Probe::Local(dir),
    })
}

fn open_s3(config: &ObjectsConfig, bucket: Bucket) -> Result<BucketStore, String> {
    let ObjectsConfig::S3 {
        endpoint,
        access_key_id,
        secret_access_key,
        region,
        bucket_prefix,
        allow_http,
    } = config
    else {
        return Err("not an S3 configuration".to_owned());
    };
    if endpoint.is_empty() || access_key_id.is_empty() || secret_access_key.is_empty() {
        return Err("endpoint, access key id and secret access key must all be set".to_owned());
    }
    if endpoint.starts_with("http://") && !allow_http {
        return Err("the endpoint is plain http:// but HTTP is not allowed".to_owned());
    }
    let name = format!(
        "{}{}",
        bucket_prefix.as_deref().unwrap_or(""),
        bucket.name()
    );
    // The default retries for 3 minutes; a readiness check and a request should
    // fail well before a client or load balancer gives up.
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    };
    let s3 = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_region(region)
        .with_bucket_name(&name)
        .with_access_key_id(access_key_id)
        .with_secret_access_key(secret_access_key)
        .with_allow_http(*allow_http)
        .with_retry(retry)
        .build()
        .map_err(|e| format!("bucket {name}: {e}"))?;
    let s3 = Arc::new(s3);
    Ok(BucketStore {
        name,
        store: s3.clone(),
        probe: Probe::S3(s3),
    })
}

/// Streams the bytes `range` of a local file in [`LOCAL_READ_CHUNK`] reads, each on the
/// blocking pool.
fn local_file_stream(
    file: std::fs::File,
    range: std::ops::Range<u64>,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let file = Arc::new(file);
    futures::stream::try_unfold(range, move |range| {
        let file = file.clone();
        async move {
            if range.is_empty() {
                return Ok(None);
            }
            let want = (range.end - range.start).min(LOCAL_READ_CHUNK as u64) as usize;
            let start = range.start;
            let buf = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; want];
                file.read_exact_at(&mut buf, start)?;
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .map_err(generic)?
            .map_err(generic)?;
            Ok(Some((Bytes::from(buf), start + want as u64..range.end)))
        }
    })
    .boxed()
}

fn generic(e: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    }
}
