//! `search_documents`: the knowledge search on behalf of the user whose message made the
//! call, over the collections they can read: those the call names, else those the user
//! picked for the message, else all. The result numbers its passages `[1]`…`[k]`
//! for the model to cite, each with its document, page and passage id (what the web app
//! links a citation to); passage texts are cut to keep the result within what the model
//! is given.

use penny_knowledge::search::{self, Request};
use penny_knowledge::SearchError;
use penny_queue::Job;
use penny_store::access;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ToolError;
use crate::jobs::ToolJobs;

/// Passages when the model does not say.
const DEFAULT_K: i64 = 5;
/// Characters of passage text the result may hold in all (the model sees ~8,000).
const TEXT_BUDGET: usize = 6_000;

/// `picked`: the collections the user picked for the message (searched when the model
/// names none; the reader's access to them is checked like any other).
pub async fn run(
    jobs: &ToolJobs,
    job: &Job,
    params: &Value,
    picked: &[Uuid],
) -> Result<Value, ToolError> {
    let query = params["query"].as_str().unwrap_or_default();
    let named: Vec<Uuid> = params["collections"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default();
    let collections = if named.is_empty() {
        picked.to_vec()
    } else {
        named
    };
    let k = params["k"].as_i64().unwrap_or(DEFAULT_K);
    let reader = {
        let mut db = jobs.store.tenant(job.tenant_id).await?;
        let reader = access::Reader::for_job(&mut db, job.created_by).await?;
        db.commit().await.map_err(penny_store::StoreError::from)?;
        reader
    };
    let request = Request {
        query,
        collections: &collections,
        documents: None,
        k,
        mode: search::Mode::Hybrid,
    };
    let found = search::search(
        &jobs.store,
        &jobs.embedders,
        job.tenant_id,
        reader,
        &request,
    )
    .await
    .map_err(|e| match e {
        SearchError::Invalid { field, message } => ToolError::Invalid {
            field: format!("params.{field}"),
            message: message.into(),
        },
        SearchError::NotFound => ToolError::Invalid {
            field: "params.collections".into(),
            message: "a collection that does not exist or that you cannot read".into(),
        },
        SearchError::Unavailable(m) => ToolError::Unavailable(m),
        SearchError::Embed(m) => ToolError::Unavailable(m),
        SearchError::Store(s) => ToolError::Store(s),
    })?;
    let each = TEXT_BUDGET / found.len().max(1);
    let passages: Vec<Value> = found
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"n": i + 1, "passageId": p.chunk_id, "documentId": p.document_id,
                   "title": p.title, "page": p.page, "heading": p.heading,
                   "content": cut(&p.content, each)})
        })
        .collect();
    let note = if passages.is_empty() {
        "No passage matched. Say that the documents do not answer this; do not guess."
    } else {
        "Answer from these passages. After each sentence that uses one, cite it by its \
         number in square brackets, e.g. [1] or [2][3]. Quote only words that are in the \
         passage."
    };
    Ok(json!({"query": query, "passages": passages, "instructions": note}))
}

/// At most `max` characters, cut at a word where one is near.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    match head.rfind(char::is_whitespace) {
        Some(i) if i > head.len() / 2 => format!("{}…", &head[..i]),
        _ => format!("{head}…"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_passages_are_cut_at_a_word() {
        assert_eq!(super::cut("short", 10), "short");
        assert_eq!(super::cut("one two three four", 10), "one two…");
    }
}
