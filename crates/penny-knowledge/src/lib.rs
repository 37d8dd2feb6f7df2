//! PENNY's knowledge: documents made searchable.
//!
//! - [`extract`]: text per page (with headings) from PDF, DOCX, HTML, Markdown, CSV and
//!   plain text, bounded against hostile files.
//! - [`chunk`]: passages that respect headings, paragraphs and pages, with a hard size
//!   bound.
//! - [`embed`]: sentence embeddings from a local model on the CPU or from an
//!   OpenAI-compatible endpoint; [`embedders`] picks the one a collection names.
//! - [`ingest`]: the `ingest` queue's job handler (extract → chunk → embed → store,
//!   committed whole with the document's `ready`).
//!
//! - [`search`]: a search on a reader's behalf (checks, access, the query's embedding),
//!   over the hybrid SQL search of `penny_store::knowledge`. No HTTP.

pub mod chunk;
pub mod embed;
pub mod embedders;
pub mod extract;
pub mod ingest;
pub mod search;

pub use embed::{EmbedError, Embedder};
pub use embedders::{Embedders, ResolveError};
pub use ingest::IngestJobs;
pub use search::{SearchError, DEFAULT_K};
