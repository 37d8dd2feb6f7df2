//! The seam between a run and the tools a model may call. The run offers the tools the
//! message allows and the caller may use, turns each call the model makes into a job
//! (stored in the same transaction as the `tool.call` event that announces it), waits for
//! the job's end, feeds the result back, and goes on until the model answers without
//! calling a tool (or the step limit).
//!
//! The tools crate implements [`ToolRunner`] (registry, grants, the job handler).

use penny_models::{ToolCall, ToolSpec};
use penny_queue::{JobId, NewJob};
use penny_store::TenantId;
use serde_json::Value;
use uuid::Uuid;

use crate::engine::Caller;

/// Who asks for a tool call, and from where.
#[derive(Debug, Clone)]
pub struct CallSite {
    pub caller: Caller,
    pub conversation: Uuid,
    pub run: Uuid,
    /// The assistant message the call belongs to.
    pub message: Uuid,
    /// The collections picked for the question (what a search without any searches).
    pub collections: Vec<Uuid>,
}

/// How a tool call ended, for the model and for the conversation's clients.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub ok: bool,
    /// What the model is shown.
    pub content: String,
    /// `artifact.created` events (without seq) for artifacts the call made.
    pub artifacts: Vec<Value>,
}

#[async_trait::async_trait]
pub trait ToolRunner: Send + Sync + 'static {
    /// The tools to offer the model: those the message allows by name that the caller may use.
    async fn offer(&self, caller: &Caller, allowed: &[String]) -> Vec<ToolSpec>;
    /// Checks a call's arguments and makes the job that runs it; `Err` is a message the
    /// model is shown so it can recover.
    fn prepare(&self, site: &CallSite, call: &ToolCall) -> Result<NewJob, String>;
    /// Waits for the job's end (up to the tool's timeout) and tells how it went.
    async fn finish(&self, tenant: TenantId, job: JobId) -> ToolOutcome;
}
