//! A search on someone's behalf, as `POST /api/v1/search` and the `search_documents` tool
//! both run it: the request is checked, the collections resolved to those the reader may
//! read (naming one they cannot is `NotFound`, as if it did not exist), and the hybrid SQL
//! search run (`penny_store::knowledge::search`).
//!
//! Collections embedded by different models are searched in one group per model: the
//! query is embedded once by each group's model (concurrently), each group is searched
//! with its own vector, and the passages are merged by their fused score. So no vector is
//! ever compared with one of another model; a group whose model fails fails the search
//! (`Embed`, with the failure's kind, never the provider's words).

use std::collections::{BTreeMap, HashSet};

use penny_store::access::Reader;
use penny_store::knowledge::{self, Passage, Query};
use penny_store::{Store, StoreError, TenantId};
use uuid::Uuid;

use crate::embedders::{Embedders, ResolveError};

/// Passages a search returns by default, and at most.
pub const DEFAULT_K: i64 = 8;
pub const MAX_K: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid value for {field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("not found")]
    NotFound,
    /// Knowledge cannot work on this server; says why.
    #[error("{0}")]
    Unavailable(String),
    #[error("embedding the query failed: {0}")]
    Embed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which rankings a search fuses: all (the default), or one side alone (to compare).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "hybrid" => Some(Mode::Hybrid),
            "vector" => Some(Mode::Vector),
            "keyword" => Some(Mode::Keyword),
            _ => None,
        }
    }
}

pub struct Request<'a> {
    pub query: &'a str,
    /// Empty: every collection the reader can read.
    pub collections: &'a [Uuid],
    pub documents: Option<&'a [Uuid]>,
    pub k: i64,
    pub mode: Mode,
}

pub async fn search(
    store: &Store,
    embedders: &Embedders,
    tenant: TenantId,
    reader: Reader,
    req: &Request<'_>,
) -> Result<Vec<Passage>, SearchError> {
    check(req)?;
    let mut tx = store.tenant(tenant).await?;
    let readable = knowledge::readable(&mut tx, reader, req.collections).await?;
    if readable.len() < req.collections.iter().collect::<HashSet<_>>().len() {
        return Err(SearchError::NotFound);
    }
    // One group per model: each embeds the query once, with its own embedder.
    let mut groups: BTreeMap<(String, i32), Vec<Uuid>> = BTreeMap::new();
    for c in readable {
        groups
            .entry((c.embedding_model, c.embedding_dims))
            .or_default()
            .push(c.id);
    }
    let mut embedders_of = Vec::with_capacity(groups.len());
    for (model, dims) in groups.keys() {
        let embedder = if req.mode == Mode::Keyword {
            None
        } else {
            match embedders.resolve(&mut tx, model).await {
                Ok(e) if e.dims() == *dims as usize => Some(e),
                Ok(e) => {
                    tracing::warn!(%model, collection_dims = dims, model_dims = e.dims(),
                        "collections of another size than their model: searched by keyword");
                    None
                }
                Err(ResolveError::Store(e)) => return Err(e.into()),
                Err(ResolveError::Unavailable(reason)) => {
                    return Err(SearchError::Unavailable(reason))
                }
                Err(e) => return Err(SearchError::Embed(e.to_string())),
            }
        };
        embedders_of.push(embedder);
    }
    tx.commit().await.map_err(StoreError::from)?;
    let vectors = futures::future::try_join_all(embedders_of.iter().map(|e| async move {
        match e {
            None => Ok(None),
            Some(e) => e
                .embed(vec![req.query.to_string()])
                .await
                .map(|mut v| v.pop())
                .map_err(|e| SearchError::Embed(e.to_string())),
        }
    }))
    .await?;
    let mut tx = store.tenant(tenant).await?;
    let mut found = Vec::new();
    for (collections, vector) in groups.values().zip(&vectors) {
        // Without a vector (keyword mode, or a model of another size) a vector search
        // finds nothing here.
        if vector.is_none() && req.mode == Mode::Vector {
            continue;
        }
        let query = Query {
            text: req.query,
            collections,
            documents: req.documents,
            embedding: vector.as_deref(),
            keywords: req.mode != Mode::Vector,
            k: req.k,
        };
        found.extend(knowledge::search(&mut tx, &query).await?);
    }
    tx.commit().await.map_err(StoreError::from)?;
    if groups.len() > 1 {
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found.truncate(req.k as usize);
    }
    Ok(found)
}

fn check(req: &Request<'_>) -> Result<(), SearchError> {
    let len = req.query.trim().chars().count();
    if !(1..=2000).contains(&len) {
        return Err(SearchError::Invalid {
            field: "query",
            message: "1 to 2000 characters",
        });
    }
    if !(1..=MAX_K).contains(&req.k) {
        return Err(SearchError::Invalid {
            field: "k",
            message: "between 1 and 50",
        });
    }
    if req.collections.len() > 100 {
        return Err(SearchError::Invalid {
            field: "collections",
            message: "at most 100",
        });
    }
    Ok(())
}
