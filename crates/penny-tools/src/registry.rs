//! The tool registry: every tool's name, description, JSON Schema of its parameters,
//! minimum role and timeout. Parameters are checked against the schema (compiled once)
//! before anything runs.

use std::collections::BTreeMap;
use std::time::Duration;

use penny_store::Role;
use serde_json::{json, Value};

use crate::error::ToolError;

/// One tool as the registry knows it.
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
    /// The lowest role that may use the tool when the tenant has not set grants.
    pub min_role: Role,
    /// How long one invocation may run (the job's timeout).
    pub timeout: Duration,
    validator: jsonschema::Validator,
}

impl ToolDef {
    fn new(
        name: &'static str,
        description: &'static str,
        parameters: Value,
        min_role: Role,
        timeout: Duration,
    ) -> Self {
        // The schemas are ours and fixed; a broken one is a bug caught by the tests.
        #[allow(clippy::expect_used)]
        let validator = jsonschema::validator_for(&parameters).expect("built-in tool schema");
        ToolDef {
            name,
            description,
            parameters,
            min_role,
            timeout,
            validator,
        }
    }

    /// Checks `params` against the schema; the error names the first offending field.
    pub fn validate(&self, params: &Value) -> Result<(), ToolError> {
        match self.validator.iter_errors(params).next() {
            None => Ok(()),
            Some(err) => {
                let path = err.instance_path().to_string();
                let field = if path.is_empty() {
                    "params".to_string()
                } else {
                    format!("params{}", path.replace('/', "."))
                };
                Err(ToolError::Invalid {
                    field,
                    message: err.to_string(),
                })
            }
        }
    }
}

/// Every tool PENNY offers, by name.
pub struct Registry {
    tools: BTreeMap<&'static str, ToolDef>,
}

/// Kinds a script's or a model's artifact may have (the web app renders each).
pub const ARTIFACT_TYPES: [&str; 10] = penny_store::artifacts::TYPES;

impl Registry {
    pub fn builtin() -> Self {
        let defs = [
            ToolDef::new(
                "python_execute",
                "Runs a Python 3.11 script in an isolated sandbox with numpy, pandas, matplotlib \
                 and scikit-learn, without network. Input files are in /workspace/inputs; every \
                 file the script writes to /workspace/output becomes an artifact (PNG/SVG charts, \
                 CSV tables, other files). Returns stdout, stderr, the exit code and the artifacts.",
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["script"],
                    "properties": {
                        "script": {"type": "string", "minLength": 1, "maxLength": 200000,
                                   "description": "The Python source to run."},
                        "files": {"type": "array", "maxItems": 20,
                                  "items": {"type": "string", "format": "uuid"},
                                  "description": "Ids of uploaded files to place in /workspace/inputs."},
                        "timeoutSec": {"type": "integer", "minimum": 1, "maximum": 120,
                                       "description": "Wall-clock limit in seconds (default 30)."}
                    }
                }),
                Role::Creator,
                Duration::from_secs(150),
            ),
            ToolDef::new(
                "generate_report",
                "Writes a report document from sections of Markdown, embedding referenced chart \
                 and table artifacts. Produces one document artifact (Markdown and a \
                 self-contained HTML page).",
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["title", "sections"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 300},
                        "sections": {"type": "array", "minItems": 1, "maxItems": 50,
                            "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "required": ["heading"],
                                "properties": {
                                    "heading": {"type": "string", "minLength": 1, "maxLength": 300},
                                    "markdown": {"type": "string", "maxLength": 100000},
                                    "artifactIds": {"type": "array", "maxItems": 20,
                                        "items": {"type": "string", "format": "uuid"}}
                                }
                            }}
                    }
                }),
                Role::Creator,
                Duration::from_secs(60),
            ),
            ToolDef::new(
                "create_artifact",
                "Creates an artifact shown beside the chat: markdown, a table (CSV), a Vega-Lite \
                 chart spec (JSON), a mermaid diagram or code.",
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["type", "title", "content"],
                    "properties": {
                        "type": {"type": "string",
                                 "enum": ["markdown", "table", "vega-lite", "mermaid", "code"]},
                        "title": {"type": "string", "minLength": 1, "maxLength": 300},
                        "content": {"type": "string", "minLength": 1, "maxLength": 1000000},
                        "language": {"type": "string", "maxLength": 40,
                                     "description": "For code: the language, e.g. python."}
                    }
                }),
                Role::Creator,
                Duration::from_secs(30),
            ),
            ToolDef::new(
                "search_documents",
                "Searches the documents of the knowledge collections the user can read \
                 (uploaded PDFs, Word files, web pages, notes) and returns the best passages, \
                 numbered, with their document and page. Use it for questions the documents \
                 may answer, then cite the passages you used as [1], [2]…",
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["query"],
                    "properties": {
                        "query": {"type": "string", "minLength": 1, "maxLength": 2000,
                                  "description": "What to look for, in words likely to be in the text."},
                        "collections": {"type": "array", "maxItems": 100,
                                        "items": {"type": "string", "format": "uuid"},
                                        "description": "Collection ids to search (default: those the user picked for the message, else all the user can read)."},
                        "k": {"type": "integer", "minimum": 1, "maximum": 20,
                              "description": "How many passages (default 5)."}
                    }
                }),
                Role::Viewer,
                Duration::from_secs(30),
            ),
            ToolDef::new(
                "current_time",
                "The current date and time in UTC (RFC 3339), or as a Unix timestamp.",
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"format": {"type": "string", "enum": ["rfc3339", "unix"]}}
                }),
                Role::Viewer,
                Duration::from_secs(5),
            ),
        ];
        Registry {
            tools: defs.into_iter().map(|d| (d.name, d)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ToolDef> {
        self.tools.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &ToolDef> {
        self.tools.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles_and_rejects_unknown_fields() {
        let r = Registry::builtin();
        for t in r.all() {
            let err = t.validate(&json!({"nope": 1})).unwrap_err();
            assert!(matches!(err, ToolError::Invalid { .. }), "{}", t.name);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let r = Registry::builtin();
        let py = r.get("python_execute").unwrap();
        py.validate(&json!({"script": "print(1)"})).unwrap();
        match py.validate(&json!({"script": "x", "timeoutSec": 500})) {
            Err(ToolError::Invalid { field, .. }) => assert_eq!(field, "params.timeoutSec"),
            other => panic!("{other:?}"),
        }
        let rep = r.get("generate_report").unwrap();
        match rep.validate(&json!({"title": "t", "sections": [{"heading": 3}]})) {
            Err(ToolError::Invalid { field, .. }) => assert_eq!(field, "params.sections.0.heading"),
            other => panic!("{other:?}"),
        }
    }
}
