//! The chat engine end to end: a real provider client against the fake provider,
//! streamed over SSE, resumable, cancellable, retried, branched and exported.

use std::time::Duration;

use penny_fake_llm::{FakeOptions, FakeServer};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

pub(crate) const KEY: &str = "sk-fake-key";

/// A server with a fake provider configured as the default model, and the admin's token.
pub(crate) struct Chat {
    pub(crate) app: TestApp,
    pub(crate) fake: FakeServer,
    pub(crate) root: String,
}

impl Chat {
    pub(crate) async fn start() -> Chat {
        Chat::start_with(&[]).await
    }

    pub(crate) async fn start_with(vars: &[(&str, &str)]) -> Chat {
        let fake = penny_fake_llm::spawn(FakeOptions {
            require_api_key: Some(KEY.into()),
            ..FakeOptions::default()
        })
        .await
        .unwrap();
        let app = TestApp::spawn_with(vars).await;
        let root = app.root_token().await;
        let model = json!({"name": "fake-gpt", "provider": "openai", "base_url": fake.openai_base(),
            "api_key": KEY, "is_default": true, "price_input_per_1k": 1.0, "price_output_per_1k": 2.0});
        let res = app.post(&root, "/api/v1/models", model).await;
        assert_eq!(res.status(), 201);
        Chat { app, fake, root }
    }

    pub(crate) async fn conversation(&self, token: &str) -> String {
        let res = self
            .app
            .post(token, "/api/v1/conversations", json!({}))
            .await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(crate) async fn send(&self, conv: &str, body: Value) -> Value {
        let res = self
            .app
            .post(&self.root, &format!("/api/v1/chat/{conv}/messages"), body)
            .await;
        assert_eq!(res.status(), 202);
        res.json().await.unwrap()
    }

    pub(crate) async fn send_sse(&self, conv: &str, body: Value) -> SseReader {
        let res = self
            .app
            .http
            .post(self.app.url(&format!("/api/v1/chat/{conv}/messages")))
            .bearer_auth(&self.root)
            .header("accept", "text/event-stream")
            .json(&body)
            .send()
            .await
            .unwrap();
        SseReader::new(res)
    }

    pub(crate) async fn events(&self, conv: &str, after: i64) -> SseReader {
        let res = self
            .app
            .http
            .get(
                self.app
                    .url(&format!("/api/v1/conversations/{conv}/events")),
            )
            .bearer_auth(&self.root)
            .header("last-event-id", after.to_string())
            .send()
            .await
            .unwrap();
        SseReader::new(res)
    }

    pub(crate) async fn branch(&self, conv: &str) -> Vec<Value> {
        let res = self
            .app
            .get(
                &self.root,
                &format!("/api/v1/conversations/{conv}/messages"),
            )
            .await;
        res.json::<Vec<Value>>().await.unwrap()
    }

    /// Waits until the conversation's newest message is no longer streaming.
    pub(crate) async fn settled(&self, conv: &str) -> Vec<Value> {
        for _ in 0..200 {
            let b = self.branch(conv).await;
            if b.last().is_some_and(|m| m["status"] != "streaming") {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the run never finished");
    }

    pub(crate) async fn stop(self) {
        self.app.stop().await;
        let _ = self.fake.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_streams_over_sse_and_is_stored_with_usage_and_cost() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat
        .send_sse(&conv, json!({"content": "Hello there [[tokens=6]]"}))
        .await;
    let events = sse.until(&["run.completed", "run.failed"]).await;
    assert_eq!(events[0].event, "run.started");
    assert_eq!(events.last().unwrap().event, "run.completed", "{events:?}");
    assert_eq!(tokens_in(&streamed(&events)), 6);
    assert_contiguous(&events);
    for e in &events {
        assert_eq!(e.data["seq"].as_i64(), e.id, "data carries its seq");
        assert_eq!(e.data["type"], e.event.as_str());
    }
    let done = &events.last().unwrap().data;
    let (input, output) = (
        done["usage"]["inputTokens"].as_f64().unwrap(),
        done["usage"]["outputTokens"].as_f64().unwrap(),
    );
    assert!(input > 0.0 && output == 6.0, "{done}");
    assert!(
        (done["cost"].as_f64().unwrap() - (input / 1000.0 + output * 2.0 / 1000.0)).abs() < 1e-9
    );

    let branch = chat.branch(&conv).await;
    assert_eq!(branch.len(), 2);
    assert_eq!(branch[0]["role"], "user");
    let answer = &branch[1];
    assert_eq!(answer["status"], "complete");
    assert_eq!(answer["content"], streamed(&events).as_str());
    assert_eq!(answer["model"], "fake-gpt");
    assert!(answer["ttft_ms"].as_i64().is_some() && answer["duration_ms"].as_i64().is_some());
    // The stored key was unsealed and sent upstream (the fake requires it).
    let conv_json: Value = chat
        .app
        .get(&chat.root, &format!("/api/v1/conversations/{conv}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(conv_json["title"], "Hello there [[tokens=6]]");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_mid_stream_resumes_with_no_gap_and_no_duplicate() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    chat.send(&conv, json!({"content": "go [[tokens=30 delay_ms=20]]"}))
        .await;
    let mut first = chat.events(&conv, 0).await;
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|e: &&Sse| e.event == "message.delta")
        .count()
        < 5
    {
        seen.push(first.next().await.unwrap());
    }
    drop(first);
    tokio::time::sleep(Duration::from_millis(150)).await; // deltas go on while away
    let last = seen.last().unwrap().id.unwrap();
    let mut again = chat.events(&conv, last).await;
    seen.extend(again.until(&["run.completed"]).await);
    assert_contiguous(&seen);
    assert_eq!(tokens_in(&streamed(&seen)), 30);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["content"], streamed(&seen).as_str());
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_does_not_stop_the_run() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat
        .send_sse(&conv, json!({"content": "bye [[tokens=10 delay_ms=20]]"}))
        .await;
    assert_eq!(sse.next().await.unwrap().event, "run.started");
    drop(sse);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["status"], "complete");
    let all = chat.events(&conv, 0).await.until(&["run.completed"]).await;
    assert_eq!(tokens_in(&streamed(&all)), 10);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_run_and_keeps_the_partial_answer() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let sent = chat
        .send(&conv, json!({"content": "long [[tokens=200 delay_ms=20]]"}))
        .await;
    let mut sse = chat.events(&conv, 0).await;
    let mut got = Vec::new();
    while got
        .iter()
        .filter(|e: &&Sse| e.event == "message.delta")
        .count()
        < 3
    {
        got.push(sse.next().await.unwrap());
    }
    let run = sent["runId"].as_str().unwrap();
    let res = chat
        .app
        .post(&chat.root, &format!("/api/v1/runs/{run}/cancel"), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    got.extend(sse.until(&["run.cancelled", "run.completed"]).await);
    assert_eq!(got.last().unwrap().event, "run.cancelled");
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["status"], "cancelled");
    let text = branch[1]["content"].as_str().unwrap();
    assert!(!text.is_empty() && text == streamed(&got), "{text:?}");
    assert!(got.iter().filter(|e| e.event == "message.delta").count() < 200);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_faster_than_a_frame_are_sent_together_and_none_is_lost() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let events = chat
        .send_sse(&conv, json!({"content": "quick [[tokens=60 delay_ms=1]]"}))
        .await
        .until(&["run.completed"])
        .await;
    let deltas = events.iter().filter(|e| e.event == "message.delta").count();
    // 60 tokens 1 ms apart span about 4 frames of 16 ms: far fewer events than tokens.
    assert!(deltas < 30, "{deltas} delta events for 60 tokens");
    assert_eq!(tokens_in(&streamed(&events)), 60);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["content"], streamed(&events).as_str());
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_asks_no_model_and_stores_nothing() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let other = chat.conversation(&chat.root).await;
    let elsewhere = chat
        .send(&other, json!({"content": "hi [[tokens=2]]"}))
        .await;
    chat.settled(&other).await;
    let asked = chat.fake.requests();
    let path = format!("/api/v1/chat/{conv}/messages");
    for parent in [
        elsewhere["messageId"].as_str().unwrap(), // another conversation's
        "00000000-0000-0000-0000-000000000000",
    ] {
        let res = chat
            .app
            .post(
                &chat.root,
                &path,
                json!({"content": "x", "parentId": parent}),
            )
            .await;
        let body = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "parentId", "{parent}");
    }
    // Another user's conversation is not found, whatever the send names as its parent:
    // its branch is read at the same time as its target, and never told.
    let (_, creator) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    for body in [
        json!({"content": "x"}),
        json!({"content": "x", "parentId": elsewhere["messageId"]}),
        json!({"content": "x", "parentId": "00000000-0000-0000-0000-000000000000"}),
    ] {
        let res = chat
            .app
            .post(&creator, &format!("/api/v1/chat/{other}/messages"), body)
            .await;
        assert_problem(res, 404, "not_found").await;
    }
    let running = chat
        .send(&conv, json!({"content": "long [[tokens=200 delay_ms=20]]"}))
        .await;
    // Its first delta: the run has asked the model.
    let mut sse = chat.events(&conv, 0).await;
    while sse.next().await.unwrap().event != "message.delta" {}
    drop(sse);
    let busy = chat
        .app
        .post(&chat.root, &path, json!({"content": "and now?"}))
        .await;
    assert_problem(busy, 409, "conflict").await;
    assert_eq!(
        chat.fake.requests() - asked,
        1,
        "a refused send called the model"
    );
    let run = running["runId"].as_str().unwrap();
    let res = chat
        .app
        .post(&chat.root, &format!("/api/v1/runs/{run}/cancel"), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(chat.settled(&conv).await.len(), 2);
    let sql = "SELECT 1 FROM runs WHERE conversation_id = $1::uuid";
    assert_eq!(chat.app.db.count(sql, Some(&conv)).await, 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_before_the_first_token_are_retried() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let before = chat.fake.requests();
    let mut sse = chat
        .send_sse(
            &conv,
            json!({"content": "flaky [[status=503 fail_first=2 tokens=3]]"}),
        )
        .await;
    let events = sse.until(&["run.completed", "run.failed"]).await;
    assert_eq!(events.last().unwrap().event, "run.completed", "{events:?}");
    assert_eq!(chat.fake.requests() - before, 3);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_model_answers_when_the_primary_is_unreachable() {
    let chat = Chat::start().await;
    let backup = json!({"name": "backup", "provider": "anthropic", "base_url": chat.fake.anthropic_base(), "api_key": KEY});
    assert_eq!(
        chat.app
            .post(&chat.root, "/api/v1/models", backup)
            .await
            .status(),
        201
    );
    let broken = json!({"name": "broken", "provider": "openai", "base_url": "http://127.0.0.1:9/v1", "fallback": "backup"});
    assert_eq!(
        chat.app
            .post(&chat.root, "/api/v1/models", broken)
            .await
            .status(),
        201
    );
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat
        .send_sse(
            &conv,
            json!({"content": "hi [[tokens=4]]", "model": "broken"}),
        )
        .await;
    let events = sse.until(&["run.completed", "run.failed"]).await;
    let done = events.last().unwrap();
    assert_eq!(done.event, "run.completed", "{events:?}");
    assert_eq!(done.data["model"], "backup");
    assert_eq!(chat.settled(&conv).await[1]["model"], "backup");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_first_token_fails_the_run_and_keeps_the_text() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat
        .send_sse(
            &conv,
            json!({"content": "cut [[tokens=10 disconnect_after=3]]"}),
        )
        .await;
    let events = sse.until(&["run.completed", "run.failed"]).await;
    let failed = events.last().unwrap();
    assert_eq!(failed.event, "run.failed");
    assert_eq!(failed.data["code"], "provider_disconnected");
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["status"], "failed");
    assert_eq!(branch[1]["error_code"], "provider_disconnected");
    assert_eq!(branch[1]["content"], streamed(&events).as_str());
    assert_eq!(tokens_in(&streamed(&events)), 3);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_upstream_key_is_reported_as_provider_auth_naming_the_model() {
    let chat = Chat::start().await;
    let wrong = json!({"name": "misconfigured", "provider": "openai", "base_url": chat.fake.openai_base(), "api_key": "sk-wrong"});
    assert_eq!(
        chat.app
            .post(&chat.root, "/api/v1/models", wrong)
            .await
            .status(),
        201
    );
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat
        .send_sse(&conv, json!({"content": "hi", "model": "misconfigured"}))
        .await;
    let failed = sse
        .until(&["run.completed", "run.failed"])
        .await
        .pop()
        .unwrap();
    assert_eq!(failed.data["code"], "provider_auth");
    assert!(
        failed.data["message"]
            .as_str()
            .unwrap()
            .contains("misconfigured"),
        "{:?}",
        failed.data
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_of_others_are_not_found_on_rest_and_sse() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let (_, colleague) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let stranger = chat.app.tenant_with_admin(&chat.root, "stranger").await;
    for token in [&colleague, &stranger] {
        for path in [
            format!("/api/v1/conversations/{conv}"),
            format!("/api/v1/conversations/{conv}/messages"),
            format!("/api/v1/conversations/{conv}/events"),
            format!("/api/v1/conversations/{conv}/export?format=md"),
        ] {
            assert_problem(chat.app.get(token, &path).await, 404, "not_found").await;
        }
        let res = chat
            .app
            .post(
                token,
                &format!("/api/v1/chat/{conv}/messages"),
                json!({"content": "hi"}),
            )
            .await;
        assert_problem(res, 404, "not_found").await;
        let res = chat
            .app
            .send(
                Method::DELETE,
                token,
                &format!("/api/v1/conversations/{conv}"),
                json!({}),
            )
            .await;
        assert_problem(res, 404, "not_found").await;
    }
    // The stranger's tenant has no model: a clear error, nothing stored.
    let theirs = chat.conversation(&stranger).await;
    let res = chat
        .app
        .post(
            &stranger,
            &format!("/api/v1/chat/{theirs}/messages"),
            json!({"content": "hi"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "model");
    let res = chat
        .app
        .get(
            &stranger,
            &format!("/api/v1/conversations/{theirs}/messages"),
        )
        .await;
    assert_eq!(res.json::<Vec<Value>>().await.unwrap().len(), 0);
    chat.stop().await;
}

/// Each message of the model's last request as `role: content`, system prompt left out.
fn context_asked(chat: &Chat) -> Vec<String> {
    let request = chat.fake.last_request().expect("the model was asked");
    request["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            format!(
                "{}: {}",
                m["role"].as_str().unwrap_or_default(),
                m["content"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_message_makes_a_branch_that_can_be_switched_and_exported() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    chat.send_sse(&conv, json!({"content": "first [[tokens=2]]"}))
        .await
        .until(&["run.completed"])
        .await;
    chat.send_sse(&conv, json!({"content": "second [[tokens=2]]"}))
        .await
        .until(&["run.completed"])
        .await;
    let original = chat.branch(&conv).await;
    assert_eq!(original.len(), 4);
    let answer1 = original[1]["content"].as_str().unwrap();
    assert_eq!(
        context_asked(&chat),
        [
            "user: first [[tokens=2]]".to_string(),
            format!("assistant: {answer1}"),
            "user: second [[tokens=2]]".to_string()
        ],
        "a follow-up is answered with its branch, root first"
    );
    let a1 = original[1]["id"].as_str().unwrap();
    let q2 = original[2]["id"].as_str().unwrap().to_string();
    let edit = json!({"content": "second, edited [[tokens=2]]", "parentId": a1});
    chat.send_sse(&conv, edit)
        .await
        .until(&["run.completed"])
        .await;
    assert_eq!(
        context_asked(&chat),
        [
            "user: first [[tokens=2]]".to_string(),
            format!("assistant: {answer1}"),
            "user: second, edited [[tokens=2]]".to_string()
        ],
        "an edit is answered with its own branch, not its sibling's"
    );
    let edited = chat.branch(&conv).await;
    assert_eq!(edited.len(), 4);
    assert_eq!(edited[2]["content"], "second, edited [[tokens=2]]");
    assert_eq!(
        (
            edited[2]["siblings"].as_i64(),
            edited[2]["sibling_index"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let old: Vec<Value> = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/messages?leaf={q2}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old[2]["content"], "second [[tokens=2]]");
    assert_eq!(
        old.len(),
        4,
        "the leaf extends to the newest answer below it"
    );
    // Switching made the old branch current.
    assert_eq!(chat.branch(&conv).await[2]["id"], q2.as_str());

    let md = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/export?format=md"),
        )
        .await;
    assert!(md.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = md.text().await.unwrap();
    assert!(
        md.contains("second [[tokens=2]]") && !md.contains("edited"),
        "{md}"
    );
    let all: Value = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/export?format=json"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["messages"].as_array().unwrap().len(), 6);
    assert_eq!(all["current_branch"].as_array().unwrap().len(), 4);
    let bad = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/export?format=pdf"),
        )
        .await;
    assert_problem(bad, 422, "validation_failed").await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_list_recent_first_search_rename_and_delete() {
    let chat = Chat::start().await;
    for title in ["Quarterly revenue", "Holiday plans", "Revenue forecast"] {
        chat.app
            .post(&chat.root, "/api/v1/conversations", json!({"title": title}))
            .await;
    }
    let all: Vec<Value> = chat
        .app
        .get(&chat.root, "/api/v1/conversations")
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = all.iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        ["Revenue forecast", "Holiday plans", "Quarterly revenue"]
    );
    let found: Vec<Value> = chat
        .app
        .get(&chat.root, "/api/v1/conversations?q=revenue")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    let id = all[1]["id"].as_str().unwrap();
    let renamed: Value = chat
        .app
        .send(
            Method::PATCH,
            &chat.root,
            &format!("/api/v1/conversations/{id}"),
            json!({"title": "Trip"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Trip");
    let res = chat
        .app
        .send(
            Method::PATCH,
            &chat.root,
            &format!("/api/v1/conversations/{id}"),
            json!({"title": ""}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        chat.app
            .send(
                Method::DELETE,
                &chat.root,
                &format!("/api/v1/conversations/{id}"),
                json!({})
            )
            .await
            .status(),
        204
    );
    let left: Vec<Value> = chat
        .app
        .get(&chat.root, "/api/v1/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(left.len(), 2);
    assert_problem(
        chat.app
            .get(&chat.root, "/api/v1/conversations?limit=1000")
            .await,
        422,
        "validation_failed",
    )
    .await;
    chat.stop().await;
}

/// Events stored for `conv`.
async fn stored_events(app: &TestApp, conv: &str) -> i64 {
    let sql = "SELECT 1 FROM conversation_events WHERE conversation_id = $1::uuid";
    app.db.count(sql, Some(conv)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_conversation_or_its_user_deletes_its_events() {
    let chat = Chat::start().await;
    let app = &chat.app;
    let (user, token) = app.user_with_role(&chat.root, "default", "creator").await;
    let (gone, kept, theirs) = (
        chat.conversation(&chat.root).await,
        chat.conversation(&chat.root).await,
        chat.conversation(&token).await,
    );
    for (conv, token) in [(&gone, &chat.root), (&kept, &chat.root), (&theirs, &token)] {
        let res = app
            .http
            .post(app.url(&format!("/api/v1/chat/{conv}/messages")))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .json(&json!({"content": "hi [[tokens=3]]"}))
            .send()
            .await
            .unwrap();
        let events = SseReader::new(res).until(&["run.completed"]).await;
        assert_eq!(events.last().unwrap().event, "run.completed");
    }
    let before = stored_events(app, &kept).await;
    assert!(
        before >= 3,
        "run.started, the answer's text and run.completed: {before}"
    );
    let last_seq = app
        .db
        .scalar_i64(
            "SELECT max(seq) FROM conversation_events WHERE conversation_id = $1::uuid",
            &kept,
        )
        .await;
    for path in [
        format!("/api/v1/conversations/{gone}"),
        format!("/api/v1/users/{user}"),
    ] {
        let res = app.send(Method::DELETE, &chat.root, &path, json!({})).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }
    assert_eq!(
        stored_events(app, &gone).await,
        0,
        "deleted with its conversation"
    );
    assert_eq!(
        stored_events(app, &theirs).await,
        0,
        "deleted with its user"
    );
    assert_eq!(
        stored_events(app, &kept).await,
        before,
        "others' events are kept"
    );
    // The kept conversation goes on numbering where it was.
    let mut events = chat
        .send_sse(&kept, json!({"content": "again [[tokens=1]]"}))
        .await;
    let started = events.until(&["run.started"]).await;
    assert_eq!(started[0].id, Some(last_seq + 1));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_keys_are_write_only_and_only_admins_manage_models() {
    let chat = Chat::start().await;
    let listed = chat
        .app
        .get(&chat.root, "/api/v1/models")
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(KEY));
    let models: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(models[0]["has_api_key"], true);
    let (_, viewer) = chat
        .app
        .user_with_role(&chat.root, "default", "viewer")
        .await;
    let seen: Value = chat
        .app
        .get(&viewer, "/api/v1/models")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen[0]["name"], "fake-gpt");
    assert!(seen[0].get("base_url").is_none() && seen[0].get("has_api_key").is_none());
    let body = json!({"name": "x", "provider": "openai", "base_url": "http://example.com/v1"});
    assert_problem(
        chat.app.post(&viewer, "/api/v1/models", body).await,
        403,
        "forbidden",
    )
    .await;
    let bad = json!({"name": "y", "provider": "cohere", "base_url": "http://example.com/v1"});
    let res = assert_problem(
        chat.app.post(&chat.root, "/api/v1/models", bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(res["errors"][0]["field"], "provider");
    let dup =
        json!({"name": "fake-gpt", "provider": "openai", "base_url": "http://example.com/v1"});
    assert_problem(
        chat.app.post(&chat.root, "/api/v1/models", dup).await,
        409,
        "conflict",
    )
    .await;
    // The key is sealed at rest.
    let mut owner = chat.app.db.owner().await;
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT api_key_sealed FROM models WHERE name = 'fake-gpt'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert!(!sealed.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_is_run_and_its_result_fed_back_until_the_model_answers() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let body = json!({"content": r#"time? [[tool=current_time args={"format":"unix"}]]"#,
        "toolsAllowed": ["current_time"]});
    let events = chat
        .send_sse(&conv, body)
        .await
        .until(&["run.completed", "run.failed"])
        .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        &kinds[..4],
        ["run.started", "tool.call", "tool.progress", "tool.result"],
        "{kinds:?}"
    );
    assert_eq!(*kinds.last().unwrap(), "run.completed");
    assert_contiguous(&events);
    assert_eq!(events[1].data["name"], "current_time");
    assert_eq!(
        events[1].data["arguments"], r#"{"format":"unix"}"#,
        "streamed arguments assembled"
    );
    assert_eq!(events[2].data["status"], "active");
    let result = &events[3].data;
    assert_eq!(result["ok"], true);
    let content: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    let unix = content["time"].as_i64().unwrap();
    assert!(unix > 1_700_000_000);
    // The model was offered the tool and then saw its result.
    let last = chat.fake.last_request().unwrap();
    assert!(last.to_string().contains(&unix.to_string()), "{last}");
    let answer = &chat.settled(&conv).await[1];
    assert!(answer["content"]
        .as_str()
        .unwrap()
        .contains(&unix.to_string()));
    assert_eq!(answer["tool_calls"][0]["name"], "current_time");
    chat.stop().await;
}

/// The names of the tools the model was offered in its last request.
fn tools_offered(chat: &Chat) -> Vec<String> {
    let request = chat.fake.last_request().expect("the model was asked");
    request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_is_offered_only_tools_the_message_allows_and_the_tenant_enables() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let allowed = json!({"content": "hi [[tokens=2]]", "toolsAllowed": ["current_time"]});
    let ask = |body: Value| {
        let (chat, conv) = (&chat, &conv);
        async move {
            chat.send_sse(conv, body)
                .await
                .until(&["run.completed"])
                .await;
            tools_offered(chat)
        }
    };
    assert_eq!(ask(allowed.clone()).await, ["current_time"]);
    assert!(ask(json!({"content": "hi [[tokens=2]]"})).await.is_empty());
    let path = "/api/v1/tools/current_time";
    let res = chat
        .app
        .send(Method::PATCH, &chat.root, path, json!({"enabled": false}))
        .await;
    assert_eq!(res.status(), 200);
    assert!(ask(allowed.clone()).await.is_empty(), "a disabled tool");
    let res = chat
        .app
        .send(Method::PATCH, &chat.root, path, json!({"enabled": true}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(ask(allowed).await, ["current_time"]);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_the_message_did_not_allow_is_refused_not_run() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let body = json!({"content": "time? [[tool=current_time args={}]]"});
    let events = chat
        .send_sse(&conv, body)
        .await
        .until(&["run.completed", "run.failed"])
        .await;
    let result = events.iter().find(|e| e.event == "tool.result").unwrap();
    assert_eq!(result.data["ok"], false);
    assert!(result.data["content"]
        .as_str()
        .unwrap()
        .contains("not available"));
    assert_eq!(events.last().unwrap().event, "run.completed");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_null_parent_makes_a_sibling_of_the_first_message() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let first = chat
        .send(&conv, json!({"content": "one [[tokens=2]]"}))
        .await;
    chat.settled(&conv).await;
    // Omitted parent: below the current leaf.
    chat.send(&conv, json!({"content": "next [[tokens=2]]"}))
        .await;
    assert_eq!(chat.settled(&conv).await.len(), 4);
    // `null`: a new first message, beside the first one.
    let edited = chat
        .send(
            &conv,
            json!({"content": "one, edited [[tokens=2]]", "parentId": null}),
        )
        .await;
    let branch = chat.settled(&conv).await;
    assert_eq!(branch.len(), 2, "{branch:?}");
    assert_eq!(branch[0]["id"], edited["messageId"]);
    assert!(branch[0]["parent_id"].is_null());
    assert_eq!(branch[0]["siblings"], 2);
    let old = chat
        .app
        .get(
            &chat.root,
            &format!(
                "/api/v1/conversations/{conv}/messages?leaf={}",
                first["messageId"].as_str().unwrap()
            ),
        )
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap();
    assert_eq!(old[0]["content"], "one [[tokens=2]]");
    chat.stop().await;
}

/// `GET …/messages` with a query (`?leaf=…&limit=…`): the answer and its `X-Has-More`.
async fn page(chat: &Chat, conv: &str, query: &str) -> (Vec<Value>, bool) {
    let res = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/messages?{query}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let more = res.headers()["x-has-more"].to_str().unwrap() == "true";
    (res.json().await.unwrap(), more)
}

fn ids(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_of_a_branch_lists_its_siblings_ids_in_order() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    chat.send(&conv, json!({"content": "first [[tokens=2]]"}))
        .await;
    let original = chat.settled(&conv).await;
    let a1 = original[1]["id"].as_str().unwrap();
    chat.send(&conv, json!({"content": "second [[tokens=2]]"}))
        .await;
    let q2 = chat.settled(&conv).await[2]["id"].clone();
    let edit = chat
        .send(
            &conv,
            json!({"content": "second, edited [[tokens=2]]", "parentId": a1}),
        )
        .await;
    let edited = chat.settled(&conv).await;
    assert_eq!(edited[2]["id"], edit["messageId"]);
    assert_eq!(edited[2]["sibling_ids"], json!([q2, edit["messageId"]]));
    assert_eq!(
        (&edited[2]["siblings"], &edited[2]["sibling_index"]),
        (&json!(2), &json!(2))
    );
    // Without siblings a message lists itself only.
    for m in [&edited[0], &edited[1], &edited[3]] {
        assert_eq!(m["sibling_ids"], json!([m["id"]]), "{m}");
        assert_eq!(m["siblings"], 1);
    }
    // The other branch, reached by the id in the list, lists the same siblings.
    let (old, _) = page(&chat, &conv, &format!("leaf={}", q2.as_str().unwrap())).await;
    assert_eq!(old[2]["id"], q2);
    assert_eq!(old[2]["sibling_ids"], edited[2]["sibling_ids"]);
    assert_eq!(old[2]["sibling_index"], 1);
    // First messages are siblings too (no parent).
    let root = chat
        .send(
            &conv,
            json!({"content": "another start [[tokens=2]]", "parentId": null}),
        )
        .await;
    let fresh = chat.settled(&conv).await;
    assert_eq!(
        fresh[0]["sibling_ids"],
        json!([original[0]["id"], root["messageId"]])
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_answer_lists_its_run_and_the_seq_of_its_run_started() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    chat.send(&conv, json!({"content": "warm up [[tokens=3]]"}))
        .await;
    chat.settled(&conv).await;
    let sent = chat
        .send(&conv, json!({"content": "slow [[tokens=100 delay_ms=30]]"}))
        .await;
    let branch = chat.branch(&conv).await;
    let answer = branch.last().unwrap();
    assert_eq!(answer["status"], "streaming", "{answer}");
    assert_eq!(answer["run_id"], sent["runId"]);
    // The log's own run.started of this run.
    let mut log = chat.events(&conv, 0).await;
    let started = loop {
        let e = log.next().await.unwrap();
        if e.event == "run.started" && e.data["runId"] == sent["runId"] {
            break e;
        }
    };
    assert_eq!(answer["run_started_seq"].as_i64(), started.id);
    assert!(
        started.id.unwrap() > 1,
        "not the conversation's first event"
    );
    // Earlier (finished) messages have neither.
    for m in &branch[..3] {
        assert!(
            m["run_id"].is_null() && m["run_started_seq"].is_null(),
            "{m}"
        );
    }
    let done = chat.settled(&conv).await;
    let answer = done.last().unwrap();
    assert_eq!(answer["status"], "complete");
    assert!(answer["run_id"].is_null() && answer["run_started_seq"].is_null());
    chat.stop().await;
}

/// A conversation of `n` messages (user and assistant in turn) written straight into the
/// database; its ids, root first.
async fn seeded_conversation(chat: &Chat, conv: &str, n: usize) -> Vec<String> {
    let mut owner = chat.app.db.owner().await;
    let conv: uuid::Uuid = conv.parse().unwrap();
    let mut ids: Vec<uuid::Uuid> = Vec::new();
    for i in 0..n {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO messages (tenant_id, conversation_id, parent_id, role, content, created_at) \
             SELECT tenant_id, id, $2, $3, $4, now() - make_interval(secs => $5) \
             FROM conversations WHERE id = $1 RETURNING id",
        )
        .bind(conv)
        .bind(ids.last())
        .bind(role)
        .bind(format!("message {i}"))
        .bind((n - i) as f64)
        .fetch_one(&mut owner)
        .await
        .unwrap();
        ids.push(id);
    }
    sqlx::query("UPDATE conversations SET current_leaf = $2 WHERE id = $1")
        .bind(conv)
        .bind(ids.last())
        .execute(&mut owner)
        .await
        .unwrap();
    ids.iter().map(|id| id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_page_back_from_the_leaf_with_limit_and_before() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let all = seeded_conversation(&chat, &conv, 13).await;

    // No limit: the whole branch, as before.
    let (whole, more) = page(&chat, &conv, "").await;
    assert_eq!(ids(&whole), all);
    assert!(!more);

    // Newest first pages, each root first, then older ones above the first of the last.
    let (newest, more) = page(&chat, &conv, "limit=5").await;
    assert_eq!(ids(&newest), all[8..]);
    assert!(more);
    let (older, more) = page(&chat, &conv, &format!("limit=5&before={}", all[8])).await;
    assert_eq!(ids(&older), all[3..8]);
    assert!(more);
    let (oldest, more) = page(&chat, &conv, &format!("limit=5&before={}", all[3])).await;
    assert_eq!(ids(&oldest), all[..3]);
    assert!(!more, "the root is listed");
    let (none, more) = page(&chat, &conv, &format!("limit=5&before={}", all[0])).await;
    assert!(none.is_empty() && !more);
    // Without limit, everything above `before`; an exact fit says there is no more.
    let (above, _) = page(&chat, &conv, &format!("before={}", all[4])).await;
    assert_eq!(ids(&above), all[..4]);
    let (exact, more) = page(&chat, &conv, "limit=13").await;
    assert_eq!(exact.len(), 13);
    assert!(!more);

    // A page of another branch: `leaf` names it; paging never moves the current leaf.
    let side = chat
        .send(
            &conv,
            json!({"content": "a side branch [[tokens=2]]", "parentId": all[5]}),
        )
        .await;
    let side_branch = chat.settled(&conv).await;
    assert_eq!(side_branch.len(), 8);
    let (top, more) = page(&chat, &conv, &format!("leaf={}&limit=3", all[12])).await;
    assert_eq!(ids(&top), all[10..]);
    assert!(more);
    assert_eq!(chat.branch(&conv).await.len(), 13, "leaf switched back");
    let side_user = side["messageId"].as_str().unwrap();
    let (_, _) = page(&chat, &conv, &format!("leaf={side_user}")).await;
    let (up, _) = page(&chat, &conv, &format!("limit=2&before={side_user}")).await;
    assert_eq!(ids(&up), all[4..6]);
    assert_eq!(
        chat.branch(&conv).await.len(),
        8,
        "a page with `before` changes nothing"
    );

    // Bad requests name the field.
    for bad in ["limit=0", "limit=501", "limit=-3"] {
        let res = chat
            .app
            .get(
                &chat.root,
                &format!("/api/v1/conversations/{conv}/messages?{bad}"),
            )
            .await;
        let body = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "limit", "{bad}");
    }
    let other = chat.conversation(&chat.root).await;
    let foreign = seeded_conversation(&chat, &other, 2).await;
    for before in [
        all[9].as_str(),     // on the main branch, not on the current (side) one
        foreign[1].as_str(), // another conversation's
        "00000000-0000-0000-0000-000000000000",
    ] {
        let res = chat
            .app
            .get(
                &chat.root,
                &format!("/api/v1/conversations/{conv}/messages?limit=5&before={before}"),
            )
            .await;
        let body = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "before", "{before}");
    }
    // An empty conversation has no branch to page in.
    let empty = chat.conversation(&chat.root).await;
    let res = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{empty}/messages?before={}", all[1]),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let (nothing, more) = page(&chat, &empty, "limit=10").await;
    assert!(nothing.is_empty() && !more);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_an_answer_makes_a_sibling_answer_to_the_same_question() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    chat.send(&conv, json!({"content": "question [[tokens=3]]"}))
        .await;
    let first = chat.settled(&conv).await;
    let (q, a1) = (first[0]["id"].clone(), first[1]["id"].clone());

    let again = chat
        .send(&conv, json!({"regenerate": true, "parentId": q}))
        .await;
    assert_eq!(again["messageId"], q, "{again}");
    let second = chat.settled(&conv).await;
    assert_eq!(
        ids(&second),
        [
            q.as_str().unwrap(),
            again["assistantMessageId"].as_str().unwrap()
        ]
    );
    let a2 = &second[1];
    assert_eq!(a2["parent_id"], q);
    assert_eq!(a2["status"], "complete");
    // The model answered the same question (its directive asked for three tokens).
    assert_eq!(a2["content"], first[1]["content"]);
    assert_eq!(a2["sibling_ids"], json!([a1, a2["id"]]));
    assert_eq!(second[0]["siblings"], 1, "no new question");

    // Refused, with nothing stored: no question named, an answer named, a message of
    // another conversation, or something new in the request.
    let other = chat.conversation(&chat.root).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for (body, field) in [
        (json!({"regenerate": true}), "parentId"),
        (json!({"regenerate": true, "parentId": null}), "parentId"),
        (json!({"regenerate": true, "parentId": a1}), "parentId"),
        (json!({"regenerate": true, "parentId": unknown}), "parentId"),
        (
            json!({"regenerate": true, "parentId": q, "content": "new words"}),
            "content",
        ),
    ] {
        let res = chat
            .app
            .post(
                &chat.root,
                &format!("/api/v1/chat/{conv}/messages"),
                body.clone(),
            )
            .await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let res = chat
        .app
        .post(
            &chat.root,
            &format!("/api/v1/chat/{other}/messages"),
            json!({"regenerate": true, "parentId": q}),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "parentId", "{problem}");
    let after = chat.branch(&conv).await;
    assert_eq!(ids(&after), ids(&second));
    assert_eq!(after[1]["sibling_ids"], json!([a1, a2["id"]]));
    chat.stop().await;
}

/// The 100,000 limit of a message counts characters, as the API says, not UTF-8 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_length_is_counted_in_characters() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let path = format!("/api/v1/chat/{conv}/messages");
    let res = chat
        .app
        .post(&chat.root, &path, json!({"content": "a".repeat(100_001)}))
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let sent = chat
        .send(&conv, json!({"content": "é".repeat(100_000)}))
        .await;
    assert!(sent["runId"].is_string(), "{sent}");
    let branch = chat.settled(&conv).await;
    assert_eq!(
        branch[0]["content"].as_str().map(|c| c.chars().count()),
        Some(100_000)
    );
}
