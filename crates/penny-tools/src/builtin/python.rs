//! `python_execute`: a script in the bubblewrap sandbox. Uploaded files are its inputs;
//! every file it writes to its output folder becomes an artifact (PNG/SVG → chart, CSV →
//! table, Markdown, HTML → document, other images, else file).

use std::time::Duration;

use penny_objects::{Bucket, ObjectKey};
use penny_queue::{Job, JobContext};
use penny_sandbox::{InputFile, RunRequest};
use penny_store::{access, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::artifacts::{self, Spec};
use crate::error::ToolError;
use crate::jobs::ToolJobs;

const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The artifact type a file the script wrote becomes.
pub fn kind_of(mime: &str) -> &'static str {
    let base = mime.split(';').next().unwrap_or_default().trim();
    match base {
        "image/png" | "image/svg+xml" => "chart",
        "text/csv" => "table",
        "text/markdown" => "markdown",
        "text/html" => "document",
        m if m.starts_with("image/") => "image",
        _ => "file",
    }
}

pub async fn run(
    jobs: &ToolJobs,
    job: &Job,
    params: &Value,
    ctx: &JobContext,
) -> Result<Value, ToolError> {
    let tenant = job.tenant_id;
    let sandbox = jobs
        .sandbox
        .as_ref()
        .map_err(|why| ToolError::Unavailable(format!("python_execute cannot run here: {why}")))?;
    let script = params["script"].as_str().unwrap_or_default().to_string();
    let timeout = Duration::from_secs(
        params["timeoutSec"]
            .as_u64()
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let ids: Vec<Uuid> = match params.get("files") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| ToolError::Invalid {
            field: "params.files".into(),
            message: e.to_string(),
        })?,
        None => Vec::new(),
    };
    let mut inputs = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        let mut db = jobs.store.tenant(tenant).await?;
        // Read for the job's creator: their own uploads (all of the tenant's for an admin).
        let reader = access::Reader::for_job(&mut db, job.created_by).await;
        let rows = match reader {
            Ok(reader) => access::files(&mut db, &reader, &ids).await,
            Err(e) => Err(e),
        }
        .map_err(|e| match e {
            StoreError::NotFound => ToolError::Invalid {
                field: "params.files".into(),
                message: "no such uploaded file".into(),
            },
            other => other.into(),
        })?;
        db.commit().await?;
        for f in rows {
            let key: ObjectKey = f.object_key.parse()?;
            let bytes = jobs.objects.get_bytes(Bucket::Uploads, &key).await?;
            inputs.push(InputFile {
                name: f.filename,
                bytes,
            });
        }
    }
    let _ = ctx.progress(json!({"stage": "running"})).await;
    let out = sandbox
        .run(RunRequest {
            script,
            files: inputs,
            timeout,
        })
        .await
        .map_err(|e| match e {
            penny_sandbox::SandboxError::InputTooLarge { .. } => ToolError::Invalid {
                field: "params.files".into(),
                message: e.to_string(),
            },
            other => ToolError::Unavailable(other.to_string()),
        })?;
    let mut staged = Vec::with_capacity(out.files.len());
    for f in &out.files {
        staged.push(
            artifacts::stage(
                &jobs.objects,
                tenant,
                Spec::new(kind_of(&f.mime), &f.name, &f.mime),
                f.bytes.clone(),
            )
            .await?,
        );
    }
    Ok(json!({
        "stdout": out.stdout,
        "stderr": out.stderr,
        "stdoutTruncated": out.stdout_truncated,
        "stderrTruncated": out.stderr_truncated,
        "exitCode": out.exit_code,
        "outcome": out.outcome.as_str(),
        "durationMs": u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        "artifacts": staged,
    }))
}
