//! Smaller leaks: racing artifact versions never serve another writer's bytes, and a
//! client's content type is checked before it is stored and served.

use serde_json::{json, Value};

use crate::common::*;

async fn new_version(app: &TestApp, token: &str, id: &str, content: &str) -> reqwest::Response {
    app.post(
        token,
        "/api/v1/artifacts",
        json!({"artifactId": id, "title": "raced", "content": content}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_versions_of_an_artifact_each_keep_their_own_bytes() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"type": "markdown", "title": "raced", "content": "v1"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for round in 0..6 {
        let (a, b) = (format!("A{round}"), format!("B{round}"));
        let (ra, rb) = tokio::join!(
            new_version(&app, &root, &id, &a),
            new_version(&app, &root, &id, &b)
        );
        let mut won = Vec::new();
        for (res, content) in [(ra, &a), (rb, &b)] {
            match res.status().as_u16() {
                201 => {
                    let v: Value = res.json().await.unwrap();
                    won.push((v["latestVersion"].as_i64().unwrap(), content.clone()));
                }
                409 => {}
                other => panic!("round {round}: {other} {}", res.text().await.unwrap()),
            }
        }
        assert!(!won.is_empty(), "round {round}: someone wins");
        for (version, content) in won {
            let res = app
                .get(
                    &root,
                    &format!("/api/v1/artifacts/{id}/content?version={version}"),
                )
                .await;
            assert_eq!(res.status(), 200);
            assert_eq!(
                res.text().await.unwrap(),
                content,
                "round {round}: version {version} serves its own writer's bytes"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_clients_content_type_is_checked_and_stored_canonical() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    for bad in [
        "text/html\r\nSet-Cookie: a=b",
        "not a type",
        "text/",
        "*/*",
        "text/plain; boundary=x",
        "text/plain,application/json",
        "text/pl(ain)",
    ] {
        let res = app
            .post(
                &root,
                "/api/v1/artifacts",
                json!({"type": "code", "title": "t", "content": "x", "mime": bad}),
            )
            .await;
        let body = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "mime", "{bad:?}: {body}");
    }
    let res = app
        .post(
            &root,
            "/api/v1/artifacts",
            json!({"type": "code", "title": "t", "content": "x", "mime": "Text/X-Rust; charset=utf-8"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .get(&root, &format!("/api/v1/artifacts/{id}/content"))
        .await;
    assert_eq!(res.headers()["content-type"], "text/x-rust; charset=utf-8");
    app.stop().await;
}
