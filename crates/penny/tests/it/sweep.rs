//! Objects whose rows are deleted leave storage too: a deleted conversation's artifacts
//! (every version) and a deleted user's uploads are swept by the scheduler; what is still
//! referenced stays.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::tools::upload;

/// Every stored object file under `dir` (the local object store).
fn objects_under(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

async fn artifact(app: &TestApp, token: &str, conv: &str, title: &str) -> String {
    let res = app
        .post(
            token,
            "/api/v1/artifacts",
            json!({"type": "markdown", "title": title, "content": "# v1", "conversationId": conv}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let a: Value = res.json().await.unwrap();
    let id = a["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            token,
            "/api/v1/artifacts",
            json!({"artifactId": id, "title": title, "content": "# v2"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_rows_take_their_objects_with_them() {
    let app = TestApp::spawn_with(&[("OBJECT_SWEEP_SECS", "1")]).await;
    let root = app.root_token().await;
    let store = app.data_dir.join("objects");
    let conv = |token: String| {
        let app = &app;
        async move {
            let res = app.post(&token, "/api/v1/conversations", json!({})).await;
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (gone, kept) = (conv(root.clone()).await, conv(root.clone()).await);
    artifact(&app, &root, &gone, "Gone").await;
    let kept_artifact = artifact(&app, &root, &kept, "Kept").await;
    let (user, token) = app.user_with_role(&root, "default", "creator").await;
    let res = upload(&app, &token, "notes.txt", b"some notes".to_vec()).await;
    assert_eq!(res.status(), 201);
    let mine = upload(&app, &root, "mine.txt", b"mine".to_vec()).await;
    let mine: Value = mine.json().await.unwrap();
    // Two versions each of two artifacts, two uploads.
    assert_eq!(
        objects_under(&store).len(),
        6,
        "{:?}",
        objects_under(&store)
    );

    let res = app
        .send(
            Method::DELETE,
            &root,
            &format!("/api/v1/conversations/{gone}"),
            Value::Null,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(
            Method::DELETE,
            &root,
            &format!("/api/v1/users/{user}"),
            Value::Null,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());

    let mut left = objects_under(&store);
    for _ in 0..100 {
        if left.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = objects_under(&store);
    }
    assert_eq!(left.len(), 3, "the swept objects are gone: {left:?}");
    // What is still referenced is untouched and readable.
    for version in [1, 2] {
        let res = app
            .get(
                &root,
                &format!("/api/v1/artifacts/{kept_artifact}/content?version={version}"),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let id = mine["id"].as_str().unwrap();
    let res = app.get(&root, &format!("/api/v1/files/{id}/content")).await;
    assert_eq!(res.text().await.unwrap(), "mine");
    // Nothing is left queued.
    let mut owner = app.db.owner().await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM object_garbage")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    app.stop().await;
}
