//! A search on someone's behalf, as `POST /api/v1/search` and the `search_documents` tool
//! both run it: the request is checked, the collections resolved to those the reader may
//! read (naming one they cannot is `NotFound`, as if it did not exist), the query
//! embedded once, and the hybrid SQL search run (`penny_store::knowledge::search`).

use std::collections::HashSet;

use penny_store::access::Reader;
use penny_store::knowledge::{self, Passage, Query};
use penny_store::{Store, StoreError, TenantId};
use uuid::Uuid;

use crate::embed::Embedder;

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
    embedder: Result<&Embedder, &str>,
    tenant: TenantId,
    reader: Reader,
    req: &Request<'_>,
) -> Result<Vec<Passage>, SearchError> {
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
    let embedder = embedder.map_err(|reason| SearchError::Unavailable(reason.to_string()))?;
    let mut tx = store.tenant(tenant).await?;
    let readable = knowledge::readable(&mut tx, reader, req.collections).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if readable.len() < req.collections.iter().collect::<HashSet<_>>().len() {
        return Err(SearchError::NotFound);
    }
    let (same, other): (Vec<_>, Vec<_>) = readable.iter().partition(|(_, model, dims)| {
        model == embedder.model() && *dims as usize == embedder.dims()
    });
    let same: Vec<Uuid> = same.into_iter().map(|(id, _, _)| *id).collect();
    let other: Vec<Uuid> = other.into_iter().map(|(id, _, _)| *id).collect();
    let vector = if same.is_empty() || req.mode == Mode::Keyword {
        None
    } else {
        embedder
            .embed(vec![req.query.to_string()])
            .await
            .map_err(|e| SearchError::Embed(e.to_string()))?
            .pop()
    };
    let mut tx = store.tenant(tenant).await?;
    let mut found = knowledge::search(
        &mut tx,
        &Query {
            text: req.query,
            collections: &same,
            documents: req.documents,
            embedding: vector.as_deref(),
            keywords: req.mode != Mode::Vector,
            k: req.k,
        },
    )
    .await?;
    // Collections embedded by another model are searched by their keywords alone.
    if !other.is_empty() && req.mode != Mode::Vector {
        let keywords = Query {
            text: req.query,
            collections: &other,
            documents: req.documents,
            embedding: None,
            keywords: true,
            k: req.k,
        };
        found.extend(knowledge::search(&mut tx, &keywords).await?);
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found.truncate(req.k as usize);
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(found)
}
