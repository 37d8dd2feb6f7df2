//! Which embedder a collection's `embedding_model` names: `local/<folder>` is this
//! server's local model, any other name one of the tenant's embedding models (the
//! `models` table, `kind = 'embedding'`), its key opened only for the call. The ingest,
//! the search and the API's collection checks all resolve through [`Embedders`], so a
//! name means the same model everywhere.

use std::sync::Arc;
use std::time::Duration;

use penny_auth::SealingKey;
use penny_outbound::{Outbound, Policy};
use penny_store::models;
use penny_store::StoreError;
use sqlx::PgConnection;

use crate::embed::{Embedder, RemoteSpec};

/// Names of the server's own models start with this.
pub const LOCAL_PREFIX: &str = "local/";

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no embedding model named {0:?}: name this server's local model or one of the workspace's embedding models")]
    Unknown(String),
    #[error("{0:?} is a chat model, not an embedding model")]
    NotEmbedding(String),
    /// The local model is not installed here; says why.
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "the stored API key of embedding model {0:?} cannot be opened; an admin can set it again"
    )]
    Key(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The local model and what remote ones need; cheap to clone.
#[derive(Clone)]
pub struct Embedders(Arc<Inner>);

struct Inner {
    /// `Err` says why the local model cannot run here.
    local: Result<Embedder, String>,
    http: Outbound,
    sealing: SealingKey,
}

impl Embedders {
    /// Every remote call goes through one client bound to `policy`.
    pub fn new(local: Result<Embedder, String>, policy: Policy, sealing: SealingKey) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("penny/", env!("CARGO_PKG_VERSION")));
        Embedders(Arc::new(Inner {
            local,
            http: Outbound::new(policy, builder),
            sealing,
        }))
    }

    /// The server's local model: every collection's default.
    pub fn local(&self) -> Result<&Embedder, ResolveError> {
        self.0
            .local
            .as_ref()
            .map_err(|reason| ResolveError::Unavailable(reason.clone()))
    }

    /// The embedder called `name`, read in the caller's (tenant-scoped) transaction.
    pub async fn resolve(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<Embedder, ResolveError> {
        if name.starts_with(LOCAL_PREFIX) {
            let local = self.local()?;
            return if local.model() == name {
                Ok(local.clone())
            } else {
                Err(ResolveError::Unknown(name.to_string()))
            };
        }
        let m = models::by_name(conn, name)
            .await?
            .ok_or_else(|| ResolveError::Unknown(name.to_string()))?;
        if !m.is_embedding() {
            return Err(ResolveError::NotEmbedding(name.to_string()));
        }
        let api_key = m
            .api_key_sealed
            .as_deref()
            .map(|sealed| self.0.sealing.open(sealed))
            .transpose()
            .map_err(|_| ResolveError::Key(name.to_string()))?;
        let dims = m
            .dimensions
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| ResolveError::NotEmbedding(name.to_string()))?;
        Ok(Embedder::remote(
            RemoteSpec {
                name: m.name,
                base_url: m.base_url,
                api_key,
                model: m.model,
                dims,
            },
            self.0.http.clone(),
        ))
    }
}
