//! Artifacts, uploads, exports and backups in object storage: a folder on local disk by
//! default, or an S3-compatible service (R2, S3, MinIO, s3s-fs) when one is configured.
//!
//! Everything is addressed by a [`Bucket`] and an [`ObjectKey`]
//! (`tenants/{tenantId}/{kind}/{id}`). Keys are built only from a tenant id and
//! server-generated names checked against `[A-Za-z0-9._-]`, so a key can never climb out
//! of its tenant's prefix, and deleting a tenant is one [`Objects::delete_prefix`] per
//! bucket.

mod config;
mod error;
mod key;
mod objects;

pub use config::ObjectsConfig;
pub use error::ObjectsError;
pub use key::{Bucket, KeyPrefix, ObjectKey};
pub use objects::{ObjectInfo, ObjectStream, Objects, PutInfo, StoredObject, PART_SIZE};
