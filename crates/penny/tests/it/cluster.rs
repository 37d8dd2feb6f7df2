//! Several instances on one database and one Redis: events reach subscribers on another
//! instance, and a run whose instance dies is failed by a survivor.

use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use penny_fake_llm::FakeOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

pub(crate) fn cluster_vars(prefix: &str) -> Vec<(String, String)> {
    [
        ("REDIS_URL", redis_url()),
        ("REDIS_PREFIX", prefix.to_string()),
        ("RUN_LEASE_SECS", "2".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Instance B: in-process, on the database of `a`.
pub(crate) async fn second_instance(a: &TestApp, vars: &[(String, String)]) -> TestApp {
    let db = TestDb {
        name: format!("{}_unused", a.db.name),
        url: a.db.url.clone(),
    };
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_on(db, &refs).await
}

async fn add_model(app: &TestApp, token: &str, base_url: &str) {
    let model =
        json!({"name": "fake", "provider": "openai", "base_url": base_url, "is_default": true});
    assert_eq!(app.post(token, "/api/v1/models", model).await.status(), 201);
}

async fn events_on(app: &TestApp, token: &str, conv: &str) -> SseReader {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/conversations/{conv}/events?after=0")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    SseReader::new(res)
}

/// A WebSocket on `app` for `conv`, authenticated and streaming from the start.
async fn ws_events(
    app: &TestApp,
    token: &str,
    conv: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/{conv}", app.addr))
        .await
        .unwrap();
    for frame in [
        json!({"type": "auth", "token": token}),
        json!({"type": "resume", "after": 0}),
    ] {
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        if frame["type"] == "auth" {
            let ready = ws.next().await.unwrap().unwrap();
            assert!(ready.to_string().contains("ready"), "{ready}");
        }
    }
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_one_instance_streams_to_sse_and_websocket_subscribers_on_another_through_redis() {
    let fake = penny_fake_llm::spawn(FakeOptions::default()).await.unwrap();
    let vars = cluster_vars(&format!("t{}", uuid::Uuid::new_v4().simple()));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = TestApp::spawn_with(&refs).await;
    let b = second_instance(&a, &vars).await;
    let token = a.root_token().await;
    add_model(&a, &token, &fake.openai_base()).await;
    let conv: Value = a
        .post(&token, "/api/v1/conversations", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let conv = conv["id"].as_str().unwrap();

    let mut on_b = events_on(&b, &token, conv).await;
    let mut ws_on_b = ws_events(&b, &token, conv).await;
    let res = a
        .post(
            &token,
            &format!("/api/v1/chat/{conv}/messages"),
            json!({"content": "x [[tokens=40 delay_ms=5]]"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let events = on_b.until(&["run.completed", "run.failed"]).await;
    assert_eq!(events.last().unwrap().event, "run.completed");
    assert_contiguous(&events);
    assert_eq!(tokens_in(&streamed(&events)), 40);
    // The same events, in the same order, on a WebSocket held on B.
    let mut over_ws = Vec::new();
    while over_ws
        .last()
        .is_none_or(|e: &Value| e["type"] != "run.completed")
    {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws_on_b.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = frame {
            over_ws.push(serde_json::from_str::<Value>(t.as_str()).unwrap());
        }
    }
    let sse_data: Vec<&Value> = events.iter().map(|e| &e.data).collect();
    assert_eq!(over_ws.iter().collect::<Vec<_>>(), sse_data);
    drop(on_b);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_a_killed_instance_is_failed_by_a_survivor_keeping_its_text() {
    let fake = penny_fake_llm::spawn(FakeOptions::default()).await.unwrap();
    let vars = cluster_vars(&format!("t{}", uuid::Uuid::new_v4().simple()));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = TestApp::spawn_with(&refs).await;
    let token = b.root_token().await;
    add_model(&b, &token, &fake.openai_base()).await;

    // Instance A: a real `penny serve` process on the same database and Redis.
    let data = temp_dir("killed");
    let mut env = base_env(&b.db, &data);
    env.extend(vars.clone());
    env.push(("PORT".into(), "0".into()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_penny"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let port: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
    let a_url = format!("http://127.0.0.1:{port}");

    let conv: Value = b
        .post(&token, "/api/v1/conversations", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let conv = conv["id"].as_str().unwrap();
    let mut on_b = events_on(&b, &token, conv).await;
    let res = b
        .http
        .post(format!("{a_url}/api/v1/chat/{conv}/messages"))
        .bearer_auth(&token)
        .json(&json!({"content": "slow [[tokens=400 delay_ms=25]]"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "sent on instance A");
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|e: &&Sse| e.event == "message.delta")
        .count()
        < 60
    {
        seen.push(on_b.next().await.unwrap());
    }
    // 60 deltas 25 ms apart: the answer was checkpointed at least once.
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait().await;

    seen.extend(on_b.until(&["run.failed", "run.completed"]).await);
    let failed = seen.last().unwrap();
    assert_eq!(failed.event, "run.failed", "{failed:?}");
    assert_eq!(failed.data["code"], "instance_lost");
    // The deltas A published, then the text kept (the last checkpoint) standing in for
    // what came after it, then the end: numbered past anything A could have published.
    assert_follows(&seen);
    let kept = &seen[seen.len() - 2];
    assert_eq!(kept.event, "message.text", "{kept:?}");
    let kept = kept.data["text"].as_str().unwrap();
    let branch: Vec<Value> = b
        .get(&token, &format!("/api/v1/conversations/{conv}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(branch[1]["status"], "failed");
    assert_eq!(branch[1]["content"], kept, "the last checkpoint is kept");
    assert!(
        !kept.is_empty() && streamed(&seen).starts_with(kept),
        "{kept:?} is what was streamed up to a checkpoint"
    );
    assert!(seen.iter().filter(|e| e.event == "message.delta").count() < 400);
    drop(on_b);
    b.stop().await;
    let _ = std::fs::remove_dir_all(data);
}

/// `/me` is served from each instance's cache; a change made on one instance is seen on
/// the other at once (the bus), not when the cache's few seconds run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_on_another_instance_shows_a_change_at_once() {
    let vars = cluster_vars(&format!("t{}", uuid::Uuid::new_v4().simple()));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = TestApp::spawn_with(&refs).await;
    let b = second_instance(&a, &vars).await;
    let token = a.root_token().await;
    let before = me(&b, &token).await; // now cached on b
    let id = before["id"].as_str().unwrap().to_string();
    let res = a
        .http
        .patch(a.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(&token)
        .json(&json!({"display_name": "Renamed Root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Well inside the 5 s the cache may keep an entry: only the announcement explains it.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    loop {
        let now = me(&b, &token).await;
        if now["display_name"] == "Renamed Root" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b still shows {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And on the instance that made the change, at once.
    assert_eq!(me(&a, &token).await["display_name"], "Renamed Root");
    b.stop().await;
    a.stop().await;
}

async fn me(app: &TestApp, token: &str) -> Value {
    let res = app.get(token, "/api/v1/me").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}
