//! Tools read files and artifacts under the same rule as the REST endpoints, and an
//! idempotency key belongs to the person and the tool it was sent with.

use serde_json::{json, Value};

use crate::common::*;
use crate::tools::upload;

async fn invoke(app: &TestApp, token: &str, tool: &str, body: Value) -> Value {
    let res = app
        .post(
            token,
            &format!("/api/v1/tools/{tool}/invoke?wait=true"),
            body,
        )
        .await;
    assert_eq!(res.status(), 200, "invoking {tool}");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_execute_cannot_read_a_colleagues_upload() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, alice) = app.user_with_role(&root, "default", "creator").await;
    let (_, mallory) = app.user_with_role(&root, "default", "creator").await;
    let res = upload(
        &app,
        &alice,
        "salaries.csv",
        b"name,pay\nalice,SECRET-PAY\n".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let file = res.json::<Value>().await.unwrap()["id"].clone();
    let script = "import glob\nfor p in glob.glob('/workspace/**', recursive=True):\n    \
                  print(p)\n    \
                  try: print(open(p).read())\n    except Exception: pass";

    // Mallory names Alice's upload: the job fails as if it did not exist.
    let job = invoke(
        &app,
        &mallory,
        "python_execute",
        json!({"params": {"script": script, "files": [file]}}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("no such uploaded file"),
        "{job}"
    );
    assert!(!job.to_string().contains("SECRET-PAY"), "{job}");

    // Alice reads her own, and an admin reads any of the tenant's.
    for token in [&alice, &root] {
        let job = invoke(
            &app,
            token,
            "python_execute",
            json!({"params": {"script": script, "files": [file]}}),
        )
        .await;
        assert_eq!(job["status"], "completed", "{job}");
        assert!(
            job["result"]["stdout"]
                .as_str()
                .unwrap()
                .contains("SECRET-PAY"),
            "{job}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_report_cannot_embed_a_colleagues_artifact() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, alice) = app.user_with_role(&root, "default", "creator").await;
    let (_, mallory) = app.user_with_role(&root, "default", "creator").await;
    let res = app
        .post(
            &alice,
            "/api/v1/artifacts",
            json!({"type": "markdown", "title": "Plans", "content": "SECRET-PLAN"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let artifact = res.json::<Value>().await.unwrap()["id"].clone();
    let params = json!({"params": {"title": "Mine",
        "sections": [{"heading": "Stolen", "markdown": "x", "artifactIds": [artifact]}]}});

    let job = invoke(&app, &mallory, "generate_report", params.clone()).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("no artifact"),
        "{job}"
    );
    assert_eq!(
        app.db
            .count("SELECT 1 FROM artifacts WHERE title = 'Mine'", None)
            .await,
        0,
        "no report was made"
    );
    let job = invoke(&app, &alice, "generate_report", params).await;
    assert_eq!(job["status"], "completed", "{job}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_never_returns_another_users_or_another_tools_job() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, alice) = app.user_with_role(&root, "default", "creator").await;
    let (_, mallory) = app.user_with_role(&root, "default", "creator").await;
    let key = "report-2026-12";
    let alices = invoke(
        &app,
        &alice,
        "create_artifact",
        json!({"idempotencyKey": key,
        "params": {"type": "markdown", "title": "Alice's", "content": "SECRET-NOTES"}}),
    )
    .await;
    assert_eq!(alices["status"], "completed", "{alices}");

    // The same key from Mallory makes Mallory's own job; nothing of Alice's comes back.
    let mallorys = invoke(
        &app,
        &mallory,
        "create_artifact",
        json!({"idempotencyKey": key,
        "params": {"type": "markdown", "title": "Mallory's", "content": "mine"}}),
    )
    .await;
    assert_ne!(mallorys["id"], alices["id"]);
    assert!(!mallorys.to_string().contains("SECRET-NOTES"), "{mallorys}");
    assert_eq!(mallorys["status"], "completed", "{mallorys}");
    // The same key for another tool is another job too.
    let time = invoke(
        &app,
        &alice,
        "current_time",
        json!({"idempotencyKey": key, "params": {}}),
    )
    .await;
    assert_ne!(time["id"], alices["id"]);
    assert_eq!(time["tool"], "current_time");
    // And the same person, tool and key gets the first job back.
    let again = invoke(
        &app,
        &alice,
        "create_artifact",
        json!({"idempotencyKey": key,
        "params": {"type": "markdown", "title": "Alice's", "content": "SECRET-NOTES"}}),
    )
    .await;
    assert_eq!(again["id"], alices["id"]);
    app.stop().await;
}
