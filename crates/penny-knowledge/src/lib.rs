//! PENNY's knowledge: documents made searchable.
//!
//! - [`extract`]: text per page (with headings) from PDF, DOCX, HTML, Markdown, CSV and
//!   plain text, bounded against hostile files.
//! - [`chunk`]: passages that respect headings, paragraphs and pages, with a hard size
//!   bound.
//! - [`embed`]: sentence embeddings from a local model on the CPU.
//! - [`ingest`]: the `ingest` queue's job handler (extract → chunk → embed → store,
//!   committed whole with the document's `ready`).
//!
//! The search itself is SQL (`penny_store::knowledge::search`); this crate gives it the
//! query's embedding. No HTTP.

pub mod chunk;
pub mod embed;
pub mod extract;
pub mod ingest;

pub use embed::{EmbedError, Embedder};
pub use ingest::IngestJobs;
