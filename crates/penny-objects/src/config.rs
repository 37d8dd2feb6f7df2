//! Where objects live; built by the server's configuration code from `R2_*`/`S3_*`.

use std::path::PathBuf;

/// Where objects are stored. The server's configuration builds this from its environment;
/// this crate reads no environment itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ObjectsConfig {
    /// One folder per bucket under `root`.
    Local { root: PathBuf },
    /// An S3-compatible endpoint (R2, S3, MinIO, s3s-fs…), path-style requests.
    S3 {
        /// e.g. `https://<account>.r2.cloudflarestorage.com` or `http://127.0.0.1:9000`.
        endpoint: String,
        access_key_id: String,
        secret_access_key: String,
        /// [`ObjectsConfig::R2_REGION`] for R2, [`ObjectsConfig::S3_REGION`] otherwise.
        region: String,
        /// Prepended to every bucket name (`staging-` gives `staging-penny-uploads`), so
        /// several deployments can share one account.
        bucket_prefix: Option<String>,
        /// Allows an `http://` endpoint; only for local test servers.
        allow_http: bool,
    },
}

impl ObjectsConfig {
    /// The default local root, relative to the working directory.
    pub const DEFAULT_LOCAL_ROOT: &'static str = ".penny/objects";
    /// The region R2 expects when `S3_REGION` is not set.
    pub const R2_REGION: &'static str = "auto";
    /// The region for other S3 services when `S3_REGION` is not set.
    pub const S3_REGION: &'static str = "us-east-1";

    /// Where objects go, for logs and error messages: the folder or the endpoint.
    pub fn location(&self) -> String {
        match self {
            Self::Local { root } => format!("local folder {}", root.display()),
            Self::S3 { endpoint, .. } => endpoint.clone(),
        }
    }
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        Self::Local {
            root: PathBuf::from(Self::DEFAULT_LOCAL_ROOT),
        }
    }
}

// Hand-written so that the secret never reaches a log line.
impl std::fmt::Debug for ObjectsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { root } => f.debug_struct("Local").field("root", root).finish(),
            Self::S3 {
                endpoint,
                access_key_id,
                region,
                bucket_prefix,
                allow_http,
                ..
            } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field("region", region)
                .field("bucket_prefix", bucket_prefix)
                .field("allow_http", allow_http)
                .finish(),
        }
    }
}
