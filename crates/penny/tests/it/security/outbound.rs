//! Server-side requests go through one outbound policy: a tenant admin cannot make PENNY
//! call its own machine, private networks or the cloud's metadata service, read an
//! internal answer back through an error, or walk the sealed key over to a host of theirs.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::chat::{Chat, KEY};
use crate::common::*;

/// Adds a model and returns its id.
async fn model(app: &TestApp, root: &str, name: &str, base_url: &str) -> String {
    let body = json!({"name": name, "provider": "openai", "base_url": base_url, "api_key": KEY});
    let res = app.post(root, "/api/v1/models", body).await;
    assert_eq!(res.status(), 201, "adding {name}");
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The model test's answer.
async fn probe(app: &TestApp, root: &str, id: &str) -> Value {
    let res = app
        .post(root, &format!("/api/v1/models/{id}/test"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A hostile upstream on 127.0.0.1: every connection gets `response` (and the request
/// it sent is kept), then is closed.
async fn upstream(response: Vec<u8>) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let response = response.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
                let _ = sock.write_all(&response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_calls_to_loopback_private_and_metadata_addresses_are_refused() {
    let chat = Chat::start_with(&[("OUTBOUND_ALLOW", "none")]).await;
    let (app, root) = (&chat.app, &chat.root);
    let port = chat.fake.addr.port();
    let targets = [
        "http://169.254.169.254/latest/v1".to_string(),
        "http://10.0.0.1/v1".into(),
        "http://192.168.1.1/v1".into(),
        "http://100.100.100.200/v1".into(),
        "http://[fd00:ec2::254]/v1".into(),
        format!("http://[::ffff:127.0.0.1]:{port}/v1"),
        format!("http://2130706433:{port}/v1"),
        // A name that resolves to loopback is judged by the address it resolves to.
        format!("http://localhost:{port}/v1"),
    ];
    for (i, url) in targets.iter().enumerate() {
        let id = model(app, root, &format!("m{i}"), url).await;
        let answer = probe(app, root, &id).await;
        assert_eq!(answer["ok"], false, "{url}: {answer}");
        assert_eq!(
            answer["error"]["code"], "outbound_refused",
            "{url}: {answer}"
        );
    }
    // The fake provider itself, on 127.0.0.1, is refused too: nothing reached it.
    let res = app.get(root, "/api/v1/models").await;
    let models: Vec<Value> = res.json().await.unwrap();
    let fake = models.iter().find(|m| m["name"] == "fake-gpt").unwrap();
    let answer = probe(app, root, fake["id"].as_str().unwrap()).await;
    assert_eq!(answer["error"]["code"], "outbound_refused", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("loopback"),
        "{answer}"
    );
    // A message's run fails the same way, and says why without the address.
    let conv = chat.conversation(root).await;
    let mut sse = chat.send_sse(&conv, json!({"content": "hi"})).await;
    let failed = sse
        .until(&["run.completed", "run.failed"])
        .await
        .pop()
        .unwrap();
    assert_eq!(failed.event, "run.failed");
    assert_eq!(failed.data["code"], "outbound_refused", "{:?}", failed.data);
    assert_eq!(
        chat.fake.requests(),
        0,
        "no request reached the fake provider"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_pass_but_a_redirect_into_a_refused_address_does_not() {
    // `localhost` is allowed by name; 127.0.0.1 as such is not.
    let chat = Chat::start_with(&[("OUTBOUND_ALLOW", "localhost")]).await;
    let (app, root) = (&chat.app, &chat.root);
    let port = chat.fake.addr.port();
    let by_name = model(app, root, "by-name", &format!("http://localhost:{port}/v1")).await;
    let answer = probe(app, root, &by_name).await;
    assert_eq!(answer["ok"], true, "{answer}");

    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{port}/v1/chat/completions\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (hop, _) = upstream(redirect.into_bytes()).await;
    let bounce = model(app, root, "bounce", &format!("http://localhost:{hop}/v1")).await;
    let before = chat.fake.requests();
    let answer = probe(app, root, &bounce).await;
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "outbound_refused", "{answer}");
    assert_eq!(
        chat.fake.requests(),
        before,
        "the redirect was not followed"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstreams_error_body_never_reaches_users_and_is_read_only_so_far() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, &chat.root);
    let secret = "INTERNAL-ANSWER root:x:0:0";
    let body = format!(
        "{{\"error\":{{\"message\":\"{secret} key sk-live-abcdefghijklmnop {}\"}}}}",
        "x".repeat(4096)
    );
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let (port, _) = upstream(response.into_bytes()).await;
    let id = model(app, root, "hostile", &format!("http://127.0.0.1:{port}/v1")).await;
    // The admin's test shows a short, redacted reason.
    let answer = probe(app, root, &id).await;
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.chars().count() < 300, "{message}");
    assert!(!message.contains("sk-live"), "{message}");
    // A user's run says only what kind of failure it was.
    let conv = chat.conversation(root).await;
    let mut sse = chat
        .send_sse(&conv, json!({"content": "hi", "model": "hostile"}))
        .await;
    let failed = sse
        .until(&["run.completed", "run.failed"])
        .await
        .pop()
        .unwrap();
    assert_eq!(failed.data["code"], "provider_error", "{:?}", failed.data);
    let shown = failed.data.to_string();
    assert!(!shown.contains("INTERNAL-ANSWER"), "{shown}");
    assert!(!shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    // An endless error body is cut off, not read to the end.
    let mut endless = b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'y', 64 * 1024 * 1024));
    let (port, _) = upstream(endless).await;
    let id = model(app, root, "endless", &format!("http://127.0.0.1:{port}/v1")).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), probe(app, root, &id))
        .await
        .expect("the test answers without reading 64 MiB");
    assert_eq!(answer["error"]["code"], "provider_error", "{answer}");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_model_to_another_host_needs_its_key_again() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, &chat.root);
    let (port, mut seen) = upstream(b"HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
    let res = app.get(root, "/api/v1/models").await;
    let models: Vec<Value> = res.json().await.unwrap();
    let id = models[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/models/{id}");
    let elsewhere = format!("http://127.0.0.1:{port}/v1");

    for change in [
        json!({"base_url": elsewhere}),
        json!({"provider": "anthropic"}),
    ] {
        let res = app.send(Method::PATCH, root, &path, change).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "api_key", "{problem}");
    }
    // With the key cleared the model moves, and the old key does not go with it.
    let res = app
        .send(
            Method::PATCH,
            root,
            &path,
            json!({"base_url": elsewhere, "api_key": ""}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["has_api_key"], false);
    probe(app, root, &id).await;
    let request = seen.recv().await.unwrap();
    assert!(!request.contains(KEY), "{request}");
    assert!(
        !request.to_ascii_lowercase().contains("authorization"),
        "{request}"
    );
    // Other fields change without the key.
    let res = app
        .send(Method::PATCH, root, &path, json!({"context_window": 4096}))
        .await;
    assert_eq!(res.status(), 200);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_from_the_operators_environment_keeps_its_endpoint_and_key() {
    let fake = penny_fake_llm::spawn(penny_fake_llm::FakeOptions {
        require_api_key: Some("sk-operator-key".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = fake.openai_base();
    let app = TestApp::spawn_with(&[
        ("OPENAI_API_KEY", "sk-operator-key"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_MODEL", "house-model"),
    ])
    .await;
    let root = app.root_token().await;
    let models: Vec<Value> = app.get(&root, "/api/v1/models").await.json().await.unwrap();
    let house = models.iter().find(|m| m["name"] == "house-model").unwrap();
    assert_eq!(house["operator_managed"], true, "{house}");
    let path = format!("/api/v1/models/{}", house["id"].as_str().unwrap());
    for change in [
        json!({"base_url": "https://attacker.example/v1", "api_key": "x"}),
        json!({"base_url": "https://attacker.example/v1", "api_key": ""}),
        json!({"api_key": "sk-mine"}),
        json!({"provider": "anthropic", "api_key": ""}),
    ] {
        let res = app.send(Method::PATCH, &root, &path, change).await;
        assert_problem(res, 403, "forbidden").await;
    }
    // Tenant admins still use it and tune the rest.
    let res = app
        .send(
            Method::PATCH,
            &root,
            &path,
            json!({"max_output_tokens": 512}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer = probe(&app, &root, house["id"].as_str().unwrap()).await;
    assert_eq!(answer["ok"], true, "{answer}");
    app.stop().await;
    let _ = fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_base_url_never_reach_an_error_message() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, &chat.root);
    // Nothing listens on the port: the transport error names the URL it failed on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // A user name and password in the URL are refused outright: nothing can echo them.
    let url = format!("http://penny:hunter2@127.0.0.1:{port}/v1");
    let body = json!({"name": "creds", "provider": "openai", "base_url": url, "api_key": KEY});
    let res = app.post(root, "/api/v1/models", body).await;
    assert_problem(res, 422, "validation_failed").await;
    // A key in the query is allowed (some providers want one there) and never shown.
    let url = format!("http://127.0.0.1:{port}/v1?api-key=sk-in-query-123");
    let body = json!({"name": "creds", "provider": "openai", "base_url": url, "api_key": KEY});
    let res = app.post(root, "/api/v1/models", body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = probe(app, root, &id).await;
    assert_eq!(answer["ok"], false, "{answer}");
    let shown = answer.to_string();
    assert!(!shown.contains("sk-in-query-123"), "{shown}");
    let conv = chat.conversation(root).await;
    let mut sse = chat
        .send_sse(&conv, json!({"content": "hi", "model": "creds"}))
        .await;
    let failed = sse
        .until(&["run.completed", "run.failed"])
        .await
        .pop()
        .unwrap();
    assert_eq!(failed.event, "run.failed");
    let shown = failed.data.to_string();
    assert!(!shown.contains("sk-in-query-123"), "{shown}");
    chat.stop().await;
}
