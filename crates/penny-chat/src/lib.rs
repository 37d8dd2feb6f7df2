//! The chat engine — the path of one message:
//! POST message → rows written (user message, empty assistant message, run, `run.started`)
//! → a run task starts, detached from the request → the provider streams tokens → each
//! delta is stored in the conversation's event log (group commit) and then published on
//! the bus → every SSE/WebSocket subscriber of the conversation, on any instance, gets it
//! → a tool call becomes a job (stored with its `tool.call` event) that a worker runs; the
//! result goes back to the model → the final message is stored with its status, usage, timings and cost.
//!
//! A client that reconnects subscribes first, then reads the log after its last seq, then
//! takes live events with a higher seq: no gap, no duplicate.

mod context;
mod engine;
mod error;
mod event;
mod pacer;
mod probe;
mod reaper;
mod run;
mod subscribe;
mod tools;
mod writer;

pub use engine::{Caller, Engine, EngineSettings, SendRequest, Started};
pub use error::ChatError;
pub use event::ChatEvent;
pub use penny_store::send::Parent;
pub use probe::PROBE_PROMPT;
pub use tools::{CallSite, ToolOutcome, ToolRunner};

/// The bus topic of a conversation's events.
pub fn conversation_topic(conversation: uuid::Uuid) -> String {
    format!("conv:{conversation}")
}

/// The bus topic on which a run hears its tool calls' progress from the workers.
pub fn progress_topic(run: uuid::Uuid) -> String {
    format!("progress:{run}")
}

/// The bus topic on which a run hears that it should stop.
pub fn cancel_topic(run: uuid::Uuid) -> String {
    format!("cancel:{run}")
}
