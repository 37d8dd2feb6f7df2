//! The seam between a run and the tools a model may call. The run offers the tools the
//! message allows, runs each call the model makes, feeds the result back, and goes on
//! until the model answers without calling a tool (or the step limit).
//!
//! The tools subsystem (registry, grants, queued jobs, the sandbox) implements
//! [`ToolRunner`]; until it is wired in, [`BuiltinTools`] holds one harmless real tool.

use penny_models::{ToolCall, ToolSpec};
use penny_store::TenantId;
use serde_json::json;

#[async_trait::async_trait]
pub trait ToolRunner: Send + Sync + 'static {
    /// The tools to offer the model, among those the message allows by name.
    fn offer(&self, allowed: &[String]) -> Vec<ToolSpec>;
    /// Runs one call; `Err` is a message the model is shown so it can recover.
    async fn call(&self, tenant: TenantId, call: &ToolCall) -> Result<String, String>;
}

/// `current_time`: the server's current UTC time, optionally in another format.
pub struct BuiltinTools;

#[async_trait::async_trait]
impl ToolRunner for BuiltinTools {
    fn offer(&self, allowed: &[String]) -> Vec<ToolSpec> {
        let all = [ToolSpec {
            name: "current_time".into(),
            description: "The current date and time in UTC (RFC 3339), or as a Unix timestamp."
                .into(),
            parameters: json!({"type": "object", "additionalProperties": false,
                "properties": {"format": {"type": "string", "enum": ["rfc3339", "unix"]}}}),
        }];
        all.into_iter()
            .filter(|t| allowed.contains(&t.name))
            .collect()
    }

    async fn call(&self, _tenant: TenantId, call: &ToolCall) -> Result<String, String> {
        match call.name.as_str() {
            "current_time" => {
                let args: serde_json::Value =
                    serde_json::from_str(if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        &call.arguments
                    })
                    .map_err(|e| format!("arguments are not valid JSON: {e}"))?;
                let now = chrono::Utc::now();
                match args
                    .get("format")
                    .and_then(|f| f.as_str())
                    .unwrap_or("rfc3339")
                {
                    "rfc3339" => Ok(now.to_rfc3339()),
                    "unix" => Ok(now.timestamp().to_string()),
                    other => Err(format!("format must be rfc3339 or unix, not {other:?}")),
                }
            }
            other => Err(format!("no tool named {other:?} is available")),
        }
    }
}
