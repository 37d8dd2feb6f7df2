//! `current_time`: the server's current UTC time.

use serde_json::{json, Value};

use crate::error::ToolError;

pub fn run(params: &Value) -> Result<Value, ToolError> {
    let now = chrono::Utc::now();
    Ok(match params.get("format").and_then(Value::as_str) {
        Some("unix") => json!({"time": now.timestamp()}),
        _ => json!({"time": now.to_rfc3339()}),
    })
}
