//! `create_artifact`: a model writes markdown, a table, a Vega-Lite spec, a mermaid
//! diagram or code as an artifact.

use bytes::Bytes;
use penny_store::TenantId;
use serde_json::{json, Value};

use crate::artifacts::{self, Spec};
use crate::error::ToolError;
use crate::jobs::ToolJobs;

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::Invalid {
        field: "params.content".into(),
        message: message.into(),
    }
}

/// The content type stored for each kind a model may create.
pub fn mime_of(kind: &str, language: Option<&str>) -> String {
    match kind {
        "markdown" => "text/markdown; charset=utf-8".into(),
        "table" => "text/csv; charset=utf-8".into(),
        "vega-lite" => "application/vnd.vegalite+json".into(),
        "mermaid" => "text/vnd.mermaid; charset=utf-8".into(),
        _ => match language {
            Some(l)
                if !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-#".contains(c)) =>
            {
                format!("text/x-{}; charset=utf-8", l.to_ascii_lowercase())
            }
            _ => "text/plain; charset=utf-8".into(),
        },
    }
}

pub async fn run(jobs: &ToolJobs, tenant: TenantId, params: &Value) -> Result<Value, ToolError> {
    let kind = params["type"].as_str().unwrap_or_default();
    let title = params["title"].as_str().unwrap_or_default();
    let content = params["content"].as_str().unwrap_or_default();
    if kind == "vega-lite" {
        let spec: Value = serde_json::from_str(content)
            .map_err(|e| invalid(format!("a Vega-Lite spec must be JSON: {e}")))?;
        if !spec.is_object() {
            return Err(invalid("a Vega-Lite spec must be a JSON object"));
        }
    }
    let mime = mime_of(kind, params["language"].as_str());
    let staged = artifacts::stage(
        &jobs.objects,
        tenant,
        Spec::new(kind, title, &mime),
        Bytes::copy_from_slice(content.as_bytes()),
    )
    .await?;
    Ok(json!({"artifacts": [staged]}))
}
