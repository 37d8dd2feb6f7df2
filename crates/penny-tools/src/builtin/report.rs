//! `generate_report`: a document from Markdown sections with referenced charts and tables
//! embedded. It makes two artifacts: the report as a self-contained HTML page (images
//! inlined as data URIs, no scripts) and the same report as Markdown.

use base64::Engine as _;
use bytes::Bytes;
use penny_objects::{Bucket, ObjectKey};
use penny_queue::Job;
use penny_store::{access, artifacts as rows};
use pulldown_cmark::{html, Options, Parser};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::artifacts::{self, Spec};
use crate::error::ToolError;
use crate::jobs::ToolJobs;

/// Biggest artifact embedded in a report.
const MAX_EMBED: u64 = 10 * 1024 * 1024;

struct Embedded {
    title: String,
    kind: String,
    mime: String,
    bytes: Bytes,
}

pub async fn run(jobs: &ToolJobs, job: &Job, params: &Value) -> Result<Value, ToolError> {
    let tenant = job.tenant_id;
    let title = params["title"].as_str().unwrap_or_default();
    let sections = params["sections"].as_array().cloned().unwrap_or_default();
    let mut markdown = format!("# {title}\n");
    let mut body = format!("<h1>{}</h1>\n", escape(title));
    for (i, section) in sections.iter().enumerate() {
        let heading = section["heading"].as_str().unwrap_or_default();
        let text = section["markdown"].as_str().unwrap_or_default();
        markdown.push_str(&format!("\n## {heading}\n\n{text}\n"));
        body.push_str(&format!("<section>\n<h2>{}</h2>\n", escape(heading)));
        body.push_str(&to_html(text));
        let ids = section["artifactIds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (j, id) in ids.iter().enumerate() {
            let id: Uuid =
                id.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| ToolError::Invalid {
                        field: format!("params.sections.{i}.artifactIds.{j}"),
                        message: "must be an artifact id".into(),
                    })?;
            let embedded = load(jobs, job, id).await.map_err(|e| match e {
                ToolError::NotFound | ToolError::Store(penny_store::StoreError::NotFound) => {
                    ToolError::Invalid {
                        field: format!("params.sections.{i}.artifactIds.{j}"),
                        message: format!("no artifact {id}"),
                    }
                }
                other => other,
            })?;
            markdown.push_str(&format!("\n*{}* (artifact {id})\n", embedded.title));
            body.push_str(&embed(&embedded));
        }
        body.push_str("</section>\n");
    }
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    );
    let doc = artifacts::stage(
        &jobs.objects,
        tenant,
        Spec::new("document", title, "text/html; charset=utf-8"),
        Bytes::from(page),
    )
    .await?;
    let md_title = format!("{} (Markdown)", truncate(title, 280));
    let md = artifacts::stage(
        &jobs.objects,
        tenant,
        Spec::new("markdown", &md_title, "text/markdown; charset=utf-8"),
        Bytes::from(markdown),
    )
    .await?;
    Ok(json!({"documentId": doc.id, "artifacts": [doc, md]}))
}

/// An artifact to embed, if the job's creator may read it (the store's one rule).
async fn load(jobs: &ToolJobs, job: &Job, id: Uuid) -> Result<Embedded, ToolError> {
    let mut db = jobs.store.tenant(job.tenant_id).await?;
    let reader = access::Reader::for_job(&mut db, job.created_by).await?;
    let artifact = access::artifact(&mut db, &reader, id).await?;
    let version = rows::version(&mut db, id, None).await?;
    db.commit().await?;
    let bytes = if u64::try_from(version.size).unwrap_or(u64::MAX) <= MAX_EMBED {
        let key: ObjectKey = version.object_key.parse()?;
        jobs.objects.get_bytes(Bucket::Artifacts, &key).await?
    } else {
        Bytes::new()
    };
    Ok(Embedded {
        title: artifact.title,
        kind: artifact.kind,
        mime: version.mime,
        bytes,
    })
}

fn embed(a: &Embedded) -> String {
    let caption = format!("<figcaption>{}</figcaption>", escape(&a.title));
    let base = a.mime.split(';').next().unwrap_or_default().trim();
    if base.starts_with("image/") && !a.bytes.is_empty() {
        let data = base64::engine::general_purpose::STANDARD.encode(&a.bytes);
        return format!(
            "<figure><img alt=\"{}\" src=\"data:{base};base64,{data}\">{caption}</figure>\n",
            escape(&a.title)
        );
    }
    let text = String::from_utf8_lossy(&a.bytes);
    match a.kind.as_str() {
        "table" => format!("<figure>{}{caption}</figure>\n", csv_table(&text)),
        "markdown" => format!("<figure>{}{caption}</figure>\n", to_html(&text)),
        _ => format!(
            "<figure><pre>{}</pre>{caption}</figure>\n",
            escape(&truncate(&text, 20_000))
        ),
    }
}

/// Markdown to HTML with raw HTML in the source shown as text (no injection).
fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        pulldown_cmark::Event::Html(t) | pulldown_cmark::Event::InlineHtml(t) => {
            pulldown_cmark::Event::Text(t)
        }
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// A CSV as an HTML table (first row as the header; at most 500 rows).
fn csv_table(text: &str) -> String {
    let mut out = String::from("<table>");
    for (i, line) in text.lines().take(501).enumerate() {
        let cell = if i == 0 { "th" } else { "td" };
        out.push_str("<tr>");
        for field in split_csv(line) {
            out.push_str(&format!("<{cell}>{}</{cell}>", escape(&field)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// One CSV line's fields (RFC 4180 quoting within the line).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;line-height:1.5;color:#1f2328}h1{border-bottom:1px solid #d0d7de}\
figure{margin:1.5rem 0}img{max-width:100%}figcaption{color:#59636e;font-size:.9em}\
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.25rem .5rem}\
pre{background:#f6f8fa;padding:1rem;overflow:auto}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_html_escaping() {
        assert_eq!(split_csv(r#"a,"b,c","d""e""#), vec!["a", "b,c", "d\"e"]);
        let t = csv_table("x,y\n<b>,2");
        assert!(t.contains("<th>x</th>") && t.contains("<td>&lt;b&gt;</td>"));
        assert!(!to_html("hi <script>alert(1)</script>").contains("<script>"));
    }
}
