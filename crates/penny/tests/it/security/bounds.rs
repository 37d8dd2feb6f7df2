//! Nothing a provider sends can hold a run or grow it without end: a run ends by
//! `RUN_MAX_SECS`, its answer stops at `RUN_MAX_OUTPUT_BYTES`, and a stream line without an
//! end is refused at its cap. Each ends the run with its own code, keeping what came.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::chat::{Chat, KEY};
use crate::common::*;

/// The run's last event (`run.completed` or `run.failed`) after sending `content`.
async fn run_end(chat: &Chat, conv: &str, body: Value) -> Sse {
    let mut sse = chat.send_sse(conv, body).await;
    sse.until(&["run.completed", "run.failed"])
        .await
        .pop()
        .unwrap()
}

async fn answer_text(chat: &Chat, conv: &str) -> String {
    let messages: Vec<Value> = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/messages"),
        )
        .await
        .json()
        .await
        .unwrap();
    messages.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_ends_by_run_max_secs_keeping_its_text() {
    let chat = Chat::start_with(&[("RUN_MAX_SECS", "2")]).await;
    let conv = chat.conversation(&chat.root).await;
    let began = Instant::now();
    // A thousand tokens 50 ms apart: 50 s, far past the limit.
    let end = run_end(
        &chat,
        &conv,
        json!({"content": "slow [[tokens=1000 delay_ms=50]]"}),
    )
    .await;
    assert_eq!(end.event, "run.failed");
    assert_eq!(end.data["code"], "run_timeout", "{:?}", end.data);
    assert!(began.elapsed() < Duration::from_secs(20));
    assert!(
        !answer_text(&chat, &conv).await.is_empty(),
        "what came is kept"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_stops_at_run_max_output_bytes() {
    let chat = Chat::start_with(&[("RUN_MAX_OUTPUT_BYTES", "2048")]).await;
    let conv = chat.conversation(&chat.root).await;
    let end = run_end(&chat, &conv, json!({"content": "long [[tokens=5000]]"})).await;
    assert_eq!(end.event, "run.failed");
    assert_eq!(end.data["code"], "output_too_large", "{:?}", end.data);
    let text = answer_text(&chat, &conv).await;
    assert!(
        text.len() <= 2048 && text.len() > 1000,
        "{} bytes kept",
        text.len()
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_line_without_end_is_refused_at_its_cap() {
    let chat = Chat::start().await;
    // An upstream that answers 200 and then sends one endless line.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                // 64 MiB at most: far past the cap, and the test ends if it is not refused.
                for _ in 0..1024 {
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let body = json!({"name": "endless", "provider": "openai",
        "base_url": format!("http://127.0.0.1:{port}/v1"), "api_key": KEY});
    assert_eq!(
        chat.app
            .post(&chat.root, "/api/v1/models", body)
            .await
            .status(),
        201
    );
    let conv = chat.conversation(&chat.root).await;
    let end = tokio::time::timeout(
        Duration::from_secs(60),
        run_end(&chat, &conv, json!({"content": "hi", "model": "endless"})),
    )
    .await
    .expect("the run ends without reading 64 MiB");
    assert_eq!(end.event, "run.failed");
    assert_eq!(end.data["code"], "provider_protocol", "{:?}", end.data);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_runs_at_most_tenant_max_runs_answers_at_once() {
    let chat = Chat::start_with(&[("TENANT_MAX_RUNS", "1")]).await;
    let (first, second) = (
        chat.conversation(&chat.root).await,
        chat.conversation(&chat.root).await,
    );
    let started = chat
        .send(
            &first,
            json!({"content": "slow [[tokens=400 delay_ms=25]]"}),
        )
        .await;
    let res = chat
        .app
        .post(
            &chat.root,
            &format!("/api/v1/chat/{second}/messages"),
            json!({"content": "me too"}),
        )
        .await;
    let problem = assert_problem(res, 429, "too_many_runs").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1"),
        "{problem}"
    );
    // When the first answer ends, its slot is free again.
    let run = started["runId"].as_str().unwrap();
    let res = chat
        .app
        .post(&chat.root, &format!("/api/v1/runs/{run}/cancel"), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let mut sent = false;
    for _ in 0..100 {
        let res = chat
            .app
            .post(
                &chat.root,
                &format!("/api/v1/chat/{second}/messages"),
                json!({"content": "now"}),
            )
            .await;
        if res.status() == 202 {
            sent = true;
            break;
        }
        assert_eq!(res.status(), 429);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent, "the slot came back when the run ended");
    chat.stop().await;
}
