//! The `tools` queue's job handler: runs one tool invocation on a worker. `run` does the
//! work (sandbox, object storage) and may run more than once; `commit` writes the rows
//! (artifacts, and for calls made through the API, the conversation's events) in the
//! transaction that completes the job, so they happen once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use penny_objects::Objects;
use penny_queue::{Job, JobContext, JobFailure, JobHandler, QueueError};
use penny_sandbox::Sandbox;
use penny_store::artifacts::Origin;
use penny_store::{events, runs, Store, TenantTx};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::artifacts::{self, Staged};
use crate::builtin;
use crate::error::ToolError;
use crate::registry::Registry;

/// The queue tool jobs go through.
pub const QUEUE: &str = "tools";

/// A tool job's payload.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub params: Value,
    /// Set when a model's call made the job (the run then reports its result itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The collections picked for the message whose answer made the call: what
    /// `search_documents` searches when its params name none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<Uuid>,
}

/// Publishes stored conversation events (the chat engine's bus); called after commit.
pub type Publish = Arc<dyn Fn(Uuid, Vec<Value>) + Send + Sync>;
/// Passes a progress event to the run whose call the job runs (which numbers and
/// publishes it with its own events).
pub type Progress = Arc<dyn Fn(Uuid, Value) + Send + Sync>;

pub struct ToolJobs {
    pub(crate) registry: Arc<Registry>,
    pub(crate) store: Store,
    pub(crate) objects: Objects,
    /// `Err` says why Python cannot run here; python_execute then refuses.
    pub(crate) sandbox: Result<Arc<Sandbox>, String>,
    /// The embedders search_documents uses (the local model, and tenants' models).
    pub(crate) embedders: penny_knowledge::Embedders,
    publish: Publish,
    progress: Progress,
    /// Events stored by `commit`, published once the transaction is committed.
    stored: Mutex<HashMap<Uuid, (Uuid, Vec<Value>)>>,
}

impl ToolJobs {
    pub fn new(
        registry: Arc<Registry>,
        store: Store,
        objects: Objects,
        sandbox: Result<Arc<Sandbox>, String>,
        embedders: penny_knowledge::Embedders,
        publish: Publish,
        progress: Progress,
    ) -> Self {
        ToolJobs {
            registry,
            store,
            objects,
            sandbox,
            embedders,
            publish,
            progress,
            stored: Mutex::default(),
        }
    }
}

impl ToolJobs {
    /// Tells the job's conversation how it is going. A model's call: its run passes it on
    /// (live, numbered with the run's events). A call through the API: stored and
    /// published, unless a run is answering in the conversation (which numbers its events
    /// alone; progress is not worth waiting for its end). Progress is informative: if it
    /// cannot be told, the job goes on.
    async fn announce(
        &self,
        tenant: penny_store::TenantId,
        conversation: Uuid,
        run: Option<Uuid>,
        event: Value,
    ) {
        if let Some(run) = run {
            (self.progress)(run, event);
            return;
        }
        let stored = async {
            let mut db = self.store.tenant(tenant).await?;
            if runs::running_in(&mut db, conversation).await?.is_some() {
                return Ok(Vec::new());
            }
            let stored = events::append(&mut db, tenant, conversation, vec![event]).await?;
            db.commit().await.map_err(penny_store::StoreError::from)?;
            Ok::<_, penny_store::StoreError>(stored)
        };
        match stored.await {
            Ok(stored) if stored.is_empty() => {}
            Ok(stored) => (self.publish)(conversation, stored),
            Err(e) => {
                tracing::warn!(error = %e, %conversation, "storing a tool progress event failed")
            }
        }
    }
}

/// Whether a completed job's tool did what it was asked. The job completes whenever the
/// tool ran; a script that raised, timed out or hit a limit says so in its `outcome`
/// (output cut at its cap after a clean exit still counts as done). The rollups count
/// failures by the same rule (migration 0020).
pub(crate) fn succeeded(result: &Value) -> bool {
    match result.get("outcome").and_then(Value::as_str) {
        None | Some("ok") => true,
        Some("output_truncated") => result["exitCode"] == 0,
        Some(_) => false,
    }
}

fn failure(e: ToolError) -> JobFailure {
    match e {
        // The caller's mistake or a missing part: trying again will not help.
        ToolError::Invalid { .. }
        | ToolError::NotFound
        | ToolError::Disabled(_)
        | ToolError::Forbidden(_)
        | ToolError::Unavailable(_) => JobFailure::permanent(e.to_string()),
        other => JobFailure::retryable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl JobHandler for ToolJobs {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobFailure> {
        let payload: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobFailure::permanent(format!("bad job payload: {e}")))?;
        let def = self
            .registry
            .get(&job.name)
            .ok_or_else(|| JobFailure::permanent(format!("no tool named {:?}", job.name)))?;
        // Checked when the job was made; checked again in case the schema changed since.
        def.validate(&payload.params).map_err(failure)?;
        let tenant = job.tenant_id;
        if let Some(conversation) = job.conversation_id {
            let progress = json!({"type": "tool.progress", "jobId": job.id, "name": job.name,
                "callId": payload.call_id, "runId": payload.run_id, "status": "active",
                "attempt": ctx.attempt()});
            self.announce(tenant, conversation, payload.run_id, progress)
                .await;
        }
        match job.name.as_str() {
            "python_execute" => builtin::python::run(self, job, &payload.params, ctx).await,
            "create_artifact" => builtin::create::run(self, tenant, &payload.params).await,
            "generate_report" => builtin::report::run(self, job, &payload.params).await,
            "current_time" => builtin::time::run(&payload.params),
            "search_documents" => {
                builtin::search::run(self, job, &payload.params, &payload.collections).await
            }
            other => Err(ToolError::Unavailable(format!(
                "tool {other} has no runner"
            ))),
        }
        .map_err(failure)
    }

    async fn commit(&self, tx: &mut TenantTx, job: &Job, output: &Value) -> Result<(), QueueError> {
        let staged: Vec<Staged> = match output.get("artifacts") {
            Some(list) => serde_json::from_value(list.clone())
                .map_err(|e| QueueError::Commit(format!("tool output artifacts: {e}")))?,
            None => Vec::new(),
        };
        let payload: Payload = serde_json::from_value(job.payload.clone()).unwrap_or_default();
        let origin = Origin {
            conversation_id: job.conversation_id,
            message_id: payload.message_id,
            job_id: Some(job.id.0),
            created_by: job.created_by,
        };
        let tenant = job.tenant_id;
        for a in &staged {
            artifacts::record(tx, tenant, a, &origin)
                .await
                .map_err(|e| QueueError::Commit(format!("storing artifact: {e}")))?;
        }
        // A model's call is reported by its run; a call through the API is reported here.
        if let (Some(conversation), None) = (job.conversation_id, payload.run_id) {
            let mut list: Vec<Value> = staged
                .iter()
                .map(|a| artifacts::created_event(a, None, Some(job.id.0)))
                .collect();
            list.push(
                json!({"type": "tool.result", "jobId": job.id, "name": job.name,
                "ok": succeeded(output), "content": output}),
            );
            let failed =
                |e: penny_store::StoreError| QueueError::Commit(format!("storing events: {e}"));
            // While a run answers in the conversation it numbers its events alone: these
            // wait in its inbox and follow its end.
            if let Some(run) = runs::running_in(tx, conversation).await.map_err(failed)? {
                runs::leave_in_inbox(tx, tenant, run, &list)
                    .await
                    .map_err(failed)?;
                return Ok(());
            }
            let stored = events::append(tx, tenant, conversation, list)
                .await
                .map_err(failed)?;
            if let Ok(mut map) = self.stored.lock() {
                map.insert(job.id.0, (conversation, stored));
            }
        }
        Ok(())
    }

    async fn committed(&self, job: &Job) {
        let stored = self
            .stored
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&job.id.0));
        if let Some((conversation, events)) = stored {
            (self.publish)(conversation, events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::succeeded;
    use serde_json::json;

    #[test]
    fn a_script_that_raised_or_hit_a_limit_did_not_succeed() {
        assert!(succeeded(&json!({"artifactId": "a"})), "no outcome: done");
        assert!(succeeded(&json!({"outcome": "ok", "exitCode": 0})));
        assert!(!succeeded(&json!({"outcome": "error", "exitCode": 1})));
        assert!(!succeeded(&json!({"outcome": "timeout", "exitCode": null})));
        assert!(!succeeded(
            &json!({"outcome": "memory_limit", "exitCode": 1})
        ));
        assert!(succeeded(
            &json!({"outcome": "output_truncated", "exitCode": 0})
        ));
        assert!(!succeeded(
            &json!({"outcome": "output_truncated", "exitCode": null})
        ));
    }
}
