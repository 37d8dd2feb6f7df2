//! PENNY's tools: what a model (or a person, through the API) can ask to be done.
//!
//! - [`registry`]: every tool's JSON Schema, minimum role and timeout; parameters are
//!   validated before anything runs.
//! - [`grants`]: per-tenant enable/disable and role grants.
//! - [`jobs`]: the `tools` queue's handler, which runs the built-ins on a worker
//!   (python_execute in the sandbox, generate_report, create_artifact, current_time).
//! - [`artifacts`]: bytes to object storage, rows in the completing transaction.
//! - [`runner`]: the chat engine's tool seam (offer, prepare a job, await it).

pub mod artifacts;
mod builtin;
pub mod error;
pub mod grants;
pub mod jobs;
pub mod registry;
pub mod runner;

pub use builtin::create::mime_of;
pub use builtin::python::kind_of;
pub use error::ToolError;
pub use jobs::{Payload, ToolJobs, QUEUE};
pub use registry::{Registry, ToolDef};
pub use runner::Tools;
