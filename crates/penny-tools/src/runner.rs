//! The chat engine's tool runner: offers the tools a caller may use, turns a model's call
//! into a `tools` job, and waits for its end.

use std::sync::Arc;
use std::time::Duration;

use penny_chat::{CallSite, Caller, ToolOutcome, ToolRunner};
use penny_models::{ToolCall, ToolSpec};
use penny_queue::{JobId, JobStatus, NewJob, Waiter};
use penny_store::{Store, TenantId};
use serde_json::{json, Value};

use crate::artifacts::Staged;
use crate::grants;
use crate::jobs::{succeeded, Payload, QUEUE};
use crate::registry::Registry;

/// Most characters of a tool's output shown to the model.
const MAX_FOR_MODEL: usize = 8_000;

pub struct Tools {
    registry: Arc<Registry>,
    store: Store,
    waiter: Waiter,
}

impl Tools {
    pub fn new(registry: Arc<Registry>, store: Store, waiter: Waiter) -> Self {
        Tools {
            registry,
            store,
            waiter,
        }
    }

    /// How long a run waits for a tool job: the longest tool's timeout, with room for a
    /// retry after a worker dies and for a busy queue.
    fn wait_limit(&self) -> Duration {
        let longest = self
            .registry
            .all()
            .map(|d| d.timeout)
            .max()
            .unwrap_or(Duration::from_secs(60));
        longest * 2 + Duration::from_secs(60)
    }
}

/// Builds a job for tool `def` from `params` (already validated).
pub fn job(def: &crate::ToolDef, payload: &Payload) -> NewJob {
    let mut job = NewJob::new(
        QUEUE,
        def.name,
        serde_json::to_value(payload).unwrap_or(Value::Null),
    );
    job.timeout = def.timeout;
    job
}

#[async_trait::async_trait]
impl ToolRunner for Tools {
    async fn offer(&self, caller: &Caller, allowed: &[String]) -> Vec<ToolSpec> {
        if allowed.is_empty() {
            return Vec::new();
        }
        match penny_store::tools::of_tenant(&self.store, caller.tenant).await {
            Ok(stored) => grants::views_under(&self.registry, &stored, caller.role)
                .into_iter()
                .filter(|v| v.usable && allowed.contains(&v.name))
                .map(|v| ToolSpec {
                    name: v.name,
                    description: v.description,
                    parameters: v.parameters,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading tool settings failed; offering no tools");
                Vec::new()
            }
        }
    }

    fn prepare(&self, site: &CallSite, call: &ToolCall) -> Result<NewJob, String> {
        let def = self
            .registry
            .get(&call.name)
            .ok_or_else(|| format!("no tool named {:?}", call.name))?;
        let params: Value = if call.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&call.arguments)
                .map_err(|e| format!("the arguments are not valid JSON: {e}"))?
        };
        def.validate(&params).map_err(|e| e.to_string())?;
        let payload = Payload {
            params,
            run_id: Some(site.run),
            message_id: Some(site.message),
            call_id: Some(call.id.clone()),
            collections: site.collections.clone(),
        };
        let mut job = job(def, &payload);
        job.conversation_id = Some(site.conversation);
        job.created_by = Some(site.caller.user.0);
        job.idempotency_key = Some(format!("call:{}:{}", site.run, call.id));
        Ok(job)
    }

    async fn finish(&self, tenant: TenantId, id: JobId) -> ToolOutcome {
        let failed = |content: String| ToolOutcome {
            ok: false,
            content,
            artifacts: Vec::new(),
        };
        let job = match self
            .waiter
            .wait(&self.store, tenant, id, self.wait_limit())
            .await
        {
            Ok(job) => job,
            Err(e) => return failed(format!("the tool did not finish: {e}")),
        };
        if job.status != JobStatus::Completed {
            return failed(job.error.unwrap_or_else(|| "the tool failed".into()));
        }
        let result = job.result.unwrap_or(Value::Null);
        let payload: Payload = serde_json::from_value(job.payload).unwrap_or_default();
        let staged: Vec<Staged> = result
            .get("artifacts")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default();
        ToolOutcome {
            ok: succeeded(&result),
            content: for_model(&result),
            artifacts: staged
                .iter()
                .map(|a| crate::artifacts::created_event(a, payload.message_id, Some(id.0)))
                .collect(),
        }
    }
}

/// The result as the model sees it: artifacts by id, type and title; long text cut.
fn for_model(result: &Value) -> String {
    let mut shown = result.clone();
    if let Some(list) = shown.get_mut("artifacts").and_then(Value::as_array_mut) {
        for a in list.iter_mut() {
            *a = json!({"id": a["id"], "type": a["type"], "title": a["title"]});
        }
    }
    for field in ["stdout", "stderr"] {
        if let Some(text) = shown.get(field).and_then(Value::as_str) {
            if text.chars().count() > MAX_FOR_MODEL {
                let cut: String = text.chars().take(MAX_FOR_MODEL).collect();
                shown[field] = Value::String(format!("{cut}\n[… cut]"));
            }
        }
    }
    shown.to_string()
}
