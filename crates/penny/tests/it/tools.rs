//! Tools end to end: the registry and grants, invoking through the API and from a
//! model's call, jobs, artifacts with versions and signed links, and uploads.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::Chat;
use crate::common::*;

async fn invoke(app: &TestApp, token: &str, tool: &str, body: Value) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/v1/tools/{tool}/invoke?wait=true"),
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_with_schemas_and_grants_follow_roles_and_tenant_settings() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;

    let tools: Vec<Value> = app
        .get(&viewer, "/api/v1/tools")
        .await
        .json()
        .await
        .unwrap();
    let py = tools
        .iter()
        .find(|t| t["name"] == "python_execute")
        .unwrap();
    assert_eq!(py["parameters"]["required"], json!(["script"]));
    assert_eq!(py["usable"], false, "viewers may not run Python by default");
    let time = tools.iter().find(|t| t["name"] == "current_time").unwrap();
    assert_eq!(time["usable"], true);

    let res = invoke(
        &app,
        &viewer,
        "python_execute",
        json!({"params": {"script": "print(1)"}}),
    )
    .await;
    assert_problem(res, 403, "tool_forbidden").await;

    // Only admins change settings.
    let res = app
        .send(
            Method::PATCH,
            &viewer,
            "/api/v1/tools/current_time",
            json!({"enabled": false}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .send(
            Method::PATCH,
            &root,
            "/api/v1/tools/current_time",
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = invoke(&app, &viewer, "current_time", json!({"params": {}})).await;
    assert_problem(res, 403, "tool_disabled").await;

    // Grant python_execute to viewers; invalid roles are refused.
    let res = app
        .send(
            Method::PATCH,
            &root,
            "/api/v1/tools/python_execute",
            json!({"roles": ["root"]}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = app
        .send(
            Method::PATCH,
            &root,
            "/api/v1/tools/python_execute",
            json!({"roles": ["viewer", "admin"]}),
        )
        .await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["roles"], json!(["admin", "viewer"]));
    let tools: Vec<Value> = app
        .get(&viewer, "/api/v1/tools")
        .await
        .json()
        .await
        .unwrap();
    let py = tools
        .iter()
        .find(|t| t["name"] == "python_execute")
        .unwrap();
    assert_eq!(py["usable"], true);
    // `null` goes back to the default grants.
    let res = app
        .send(
            Method::PATCH,
            &root,
            "/api/v1/tools/python_execute",
            json!({"roles": null}),
        )
        .await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["customRoles"], false);
    assert_eq!(view["roles"], json!(["admin", "manager", "creator"]));

    let res = app
        .send(
            Method::PATCH,
            &root,
            "/api/v1/tools/no_such_tool",
            json!({"enabled": true}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_checked_against_the_schema_before_anything_runs() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = invoke(
        &app,
        &root,
        "python_execute",
        json!({"params": {"script": "print(1)", "timeoutSec": 500}}),
    )
    .await;
    let p = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "params.timeoutSec");
    let res = invoke(&app, &root, "python_execute", json!({"params": {}})).await;
    assert_problem(res, 422, "validation_failed").await;
    let res = invoke(
        &app,
        &root,
        "create_artifact",
        json!({"params": {"type": "pdf", "title": "x", "content": "y"}}),
    )
    .await;
    let p = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "params.type");
    let res = invoke(&app, &root, "nope", json!({"params": {}})).await;
    assert_problem(res, 404, "not_found").await;
    // Nothing was enqueued by any of these.
    let queues: Vec<Value> = app
        .get(&root, "/api/v1/admin/queues")
        .await
        .json()
        .await
        .unwrap();
    let tools = queues.iter().find(|q| q["name"] == "tools").unwrap();
    assert_eq!(tools["completed"], 0);
    assert_eq!(tools["waiting"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoked_tool_makes_a_versioned_artifact_reported_on_the_conversation() {
    // On the real S3-compatible server, as a deployment with R2/S3 would run.
    let s3 = s3_env();
    let vars: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&vars).await;
    let root = app.root_token().await;
    let conv: Value = app
        .post(&root, "/api/v1/conversations", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let conv = conv["id"].as_str().unwrap().to_string();
    let res = invoke(&app, &root, "create_artifact", json!({"conversationId": conv,
        "params": {"type": "table", "title": "Sales", "content": "region,total\nnorth,3\nsouth,4\n"}})).await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["tool"], "create_artifact");
    assert_eq!(job["attempts"], 1);
    let artifact_id = job["result"]["artifacts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The job is readable by its owner; counts show it.
    let again: Value = app
        .get(
            &root,
            &format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "completed");
    let queues: Vec<Value> = app
        .get(&root, "/api/v1/admin/queues")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queues.iter().find(|q| q["name"] == "tools").unwrap()["completed"],
        1
    );

    // Listed with the conversation; its bytes stream back with ETag and the cache rule.
    let list: Vec<Value> = app
        .get(&root, &format!("/api/v1/artifacts?conversationId={conv}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "table");
    let res = app
        .get(&root, &format!("/api/v1/artifacts/{artifact_id}/content"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "private, max-age=3600");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        res.text().await.unwrap(),
        "region,total\nnorth,3\nsouth,4\n"
    );
    let res = app
        .http
        .get(app.url(&format!("/api/v1/artifacts/{artifact_id}/content")))
        .bearer_auth(&root)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // A new version; the old one stays readable.
    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"artifactId": artifact_id, "title": "Sales v2",
        "content": "region,total\nnorth,5\n"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["latestVersion"], 2);
    assert_eq!(updated["versions"].as_array().unwrap().len(), 2);
    let v1 = app
        .get(
            &root,
            &format!("/api/v1/artifacts/{artifact_id}/content?version=1"),
        )
        .await;
    assert_eq!(v1.text().await.unwrap(), "region,total\nnorth,3\nsouth,4\n");
    let v2 = app
        .get(&root, &format!("/api/v1/artifacts/{artifact_id}/content"))
        .await;
    assert_eq!(v2.text().await.unwrap(), "region,total\nnorth,5\n");
    let res = app
        .get(
            &root,
            &format!("/api/v1/artifacts/{artifact_id}/content?version=9"),
        )
        .await;
    assert_problem(res, 404, "not_found").await;

    // The conversation's clients saw the artifact and the result, in order.
    let res = app
        .http
        .get(app.url(&format!("/api/v1/conversations/{conv}/events?after=0")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    let events = SseReader::new(res).until(&["tool.result"]).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["tool.progress", "artifact.created", "tool.result"]);
    assert_eq!(events[0].data["jobId"], job["id"]);
    assert_eq!(events[1].data["artifactId"], artifact_id);
    assert_eq!(events[2].data["jobId"], job["id"]);
    assert_contiguous(&events);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_jobs_and_files_of_others_are_not_found_and_links_expire_with_their_signature() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let other_admin = app.tenant_with_admin(&root, "acme").await;
    let (_, colleague) = app.user_with_role(&root, "default", "creator").await;

    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"type": "markdown", "title": "Notes", "content": "# hi"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for token in [&other_admin, &colleague] {
        for path in [
            format!("/api/v1/artifacts/{id}"),
            format!("/api/v1/artifacts/{id}/content"),
        ] {
            assert_problem(app.get(token, &path).await, 404, "not_found").await;
        }
    }
    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"type": "slides", "title": "x", "content": "y"}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"type": "image", "title": "x", "content": "%%%", "encoding": "base64"}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;

    // A signed link works without a token; a changed one does not.
    let link: Value = app
        .post(&root, &format!("/api/v1/artifacts/{id}/link"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    let res = app.http.get(app.url(url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "# hi");
    let mut forged = url.to_string();
    forged.insert(forged.len() - 3, 'x');
    let res = app.http.get(app.url(&forged)).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;

    // Jobs of someone else are not found.
    let res = invoke(&app, &root, "current_time", json!({"params": {}})).await;
    let job: Value = res.json().await.unwrap();
    let path = format!("/api/v1/jobs/{}", job["id"].as_str().unwrap());
    assert_problem(app.get(&colleague, &path).await, 404, "not_found").await;
    assert_problem(app.get(&other_admin, &path).await, 404, "not_found").await;
    assert_problem(
        app.get(&colleague, "/api/v1/admin/queues").await,
        403,
        "forbidden",
    )
    .await;
    app.stop().await;
}

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    app.http
        .post(app.url("/api/v1/files"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_sniffed_size_limited_and_their_names_never_become_paths() {
    let app = TestApp::spawn_with(&[("UPLOAD_LIMIT_BYTES", "2000000")]).await;
    let root = app.root_token().await;
    let res = upload(&app, &root, "../../etc/passwd", b"a,b\n1,2\n3,4\n".to_vec()).await;
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    assert_eq!(
        file["filename"], "../../etc/passwd",
        "kept as metadata only"
    );
    assert_eq!(file["mime"], "text/csv", "sniffed from the content");
    let id = file["id"].as_str().unwrap();
    // Stored under ids, inside the data folder.
    let stored: Vec<_> = walk(&app.data_dir.join("objects"));
    assert!(stored.iter().any(|p| p.ends_with(id)), "{stored:?}");
    assert!(stored
        .iter()
        .all(|p| !p.to_string_lossy().contains("passwd")));
    let res = app.get(&root, &format!("/api/v1/files/{id}/content")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".._.._etc_passwd"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"a,b\n1,2\n3,4\n");

    // A PNG is a PNG whatever its name says.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec();
    let f: Value = upload(&app, &root, "notes.txt", png)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(f["mime"], "image/png");

    // Too large (checked as the body streams in): 413, and nothing is recorded.
    let res = upload(&app, &root, "big.bin", vec![7u8; 2_000_100]).await;
    assert_problem(res, 413, "payload_too_large").await;
    let res = app
        .http
        .post(app.url("/api/v1/files"))
        .bearer_auth(&root)
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "validation_failed").await;

    let other = app.tenant_with_admin(&root, "acme").await;
    assert_problem(
        app.get(&other, &format!("/api/v1/files/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&other, &format!("/api/v1/files/{id}/content"))
            .await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_python_call_runs_in_the_sandbox_and_its_chart_becomes_an_artifact() {
    let chat = Chat::start().await;
    let app = &chat.app;
    // An uploaded CSV is the script's input.
    let res = upload(
        app,
        &chat.root,
        "sales.csv",
        b"month,total\n1,3\n2,5\n3,4\n".to_vec(),
    )
    .await;
    let file: Value = res.json().await.unwrap();
    let script = "import pandas as pd, matplotlib.pyplot as plt\n\
        df = pd.read_csv('/workspace/inputs/sales.csv')\n\
        df.plot(x='month', y='total')\n\
        plt.savefig('/workspace/output/chart.png')\n\
        df.to_csv('/workspace/output/summary.csv', index=False)\n\
        print(int(df.total.sum()))";
    let args = json!({"script": script, "files": [file["id"]]}).to_string();
    let conv = chat.conversation(&chat.root).await;
    let body = json!({"content": format!("chart it [[tool=python_execute args={args}]]"),
        "toolsAllowed": ["python_execute"]});
    let events = chat
        .send_sse(&conv, body)
        .await
        .until(&["run.completed", "run.failed"])
        .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(*kinds.last().unwrap(), "run.completed", "{kinds:?}");
    assert_contiguous(&events);
    let created: Vec<&Sse> = events
        .iter()
        .filter(|e| e.event == "artifact.created")
        .collect();
    assert_eq!(created.len(), 2, "{kinds:?}");
    let chart = created
        .iter()
        .find(|e| e.data["artifactType"] == "chart")
        .unwrap();
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    assert_eq!(result.data["ok"], true, "{}", result.data);
    let content: Value = serde_json::from_str(result.data["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["stdout"], "12\n");
    assert_eq!(content["outcome"], "ok");
    // The chart's bytes are a PNG.
    let id = chart.data["artifactId"].as_str().unwrap();
    let res = app
        .get(&chat.root, &format!("/api/v1/artifacts/{id}/content"))
        .await;
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let artifact: Value = app
        .get(&chat.root, &format!("/api/v1/artifacts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(artifact["conversationId"], conv);
    assert!(artifact["jobId"].is_string());

    // A script that raises: the job ran, the call did not succeed; the model gets the
    // traceback and the answer goes on.
    let args = json!({"script": "raise ValueError('bad input data')"}).to_string();
    let body = json!({"content": format!("again [[tool=python_execute args={args}]]"),
        "toolsAllowed": ["python_execute"]});
    let events = chat
        .send_sse(&conv, body)
        .await
        .until(&["run.completed", "run.failed"])
        .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(*kinds.last().unwrap(), "run.completed", "{kinds:?}");
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    assert_eq!(result.data["ok"], false, "{}", result.data);
    let content: Value = serde_json::from_str(result.data["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["outcome"], "error");
    assert!(content["stderr"]
        .as_str()
        .unwrap()
        .contains("ValueError: bad input data"));
    // The usage report counts it as a failed run of the tool.
    let report: Value = app
        .get(&chat.root, "/api/v1/admin/analytics?groupBy=tool")
        .await
        .json()
        .await
        .unwrap();
    let python = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "python_execute")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (python["toolRuns"].as_i64(), python["toolFailures"].as_i64()),
        (Some(2), Some(1)),
        "{python}"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_embeds_the_charts_and_tables_it_references_in_one_self_contained_page() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let script = "import matplotlib.pyplot as plt\nplt.bar(['a','b'],[2,3])\nplt.savefig('/workspace/output/bars.png')";
    let res = invoke(
        &app,
        &root,
        "python_execute",
        json!({"params": {"script": script}}),
    )
    .await;
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"]["outcome"], "ok");
    let chart = job["result"]["artifacts"][0]["id"].clone();
    let res = invoke(
        &app,
        &root,
        "create_artifact",
        json!({"params": {"type": "table", "title": "Totals",
        "content": "name,total\n<b>a</b>,2\nb,3\n"}}),
    )
    .await;
    let table = res.json::<Value>().await.unwrap()["result"]["artifacts"][0]["id"].clone();

    let res = invoke(&app, &root, "generate_report", json!({"params": {"title": "Q3 <review>",
        "sections": [{"heading": "Overview", "markdown": "Sales **grew**.\n\n<script>alert(1)</script>",
                      "artifactIds": [chart, table]}]}})).await;
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "completed", "{job}");
    let doc = job["result"]["documentId"].as_str().unwrap();
    let res = app
        .get(&root, &format!("/api/v1/artifacts/{doc}/content"))
        .await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    let html = res.text().await.unwrap();
    assert!(html.contains("<title>Q3 &lt;review&gt;</title>"), "{html}");
    assert!(html.contains("<strong>grew</strong>"));
    assert!(
        html.contains("src=\"data:image/png;base64,iVBOR"),
        "the chart is embedded"
    );
    assert!(
        html.contains("<td>&lt;b&gt;a&lt;/b&gt;</td>"),
        "the table is embedded, escaped"
    );
    assert!(!html.contains("<script>"), "model text cannot inject HTML");
    // The Markdown twin references the artifacts.
    let md_id = job["result"]["artifacts"][1]["id"].as_str().unwrap();
    let md = app
        .get(&root, &format!("/api/v1/artifacts/{md_id}/content"))
        .await
        .text()
        .await
        .unwrap();
    assert!(md.starts_with("# Q3 <review>") && md.contains(chart.as_str().unwrap()));

    // Referencing an artifact that does not exist is a clear failure, not a broken page.
    let res = invoke(
        &app,
        &root,
        "generate_report",
        json!({"params": {"title": "x",
        "sections": [{"heading": "h", "artifactIds": [uuid::Uuid::new_v4()]}]}}),
    )
    .await;
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "failed");
    assert!(
        job["error"].as_str().unwrap().contains("no artifact"),
        "{job}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_refuses_clearly_when_the_sandbox_cannot_run() {
    let app = TestApp::spawn_with(&[("SANDBOX_VENV", "/nonexistent/venv")]).await;
    let root = app.root_token().await;
    let res = invoke(
        &app,
        &root,
        "python_execute",
        json!({"params": {"script": "print(1)"}}),
    )
    .await;
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["attempts"], 1, "a missing sandbox is not retried");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("python_execute cannot run here"),
        "{job}"
    );
    app.stop().await;
}
