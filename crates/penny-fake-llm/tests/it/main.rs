//! The fake's own behaviour, seen over plain HTTP (the streaming paths are exercised by the
//! real clients in `penny-models`' tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use penny_fake_llm::{spawn, FakeOptions};
use serde_json::{json, Value};

async fn post(url: String, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn non_streaming_openai_request_gets_a_json_completion() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let (status, _, body) = post(
        format!("{}/chat/completions", fake.openai_base()),
        json!({"model": "m", "messages": [{"role": "user", "content": "ping [[tokens=3]]"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: ping t3");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn non_streaming_anthropic_request_gets_a_json_message() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let (status, _, body) = post(
        format!("{}/messages", fake.anthropic_base()),
        json!({"model": "m", "max_tokens": 10,
               "messages": [{"role": "user", "content": "call [[tool=lookup args={\"q\":1}]]"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], "message");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["name"], "lookup");
    assert_eq!(body["content"][0]["input"], json!({"q": 1}));
}

#[tokio::test]
async fn models_endpoint_lists_the_fake_model() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let body: Value = reqwest::get(format!("{}/models", fake.openai_base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["id"], "fake-model");
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn bad_directive_is_refused_with_a_provider_style_400() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let (status, _, body) = post(
        format!("{}/chat/completions", fake.openai_base()),
        json!({"messages": [{"role": "user", "content": "[[tokens=lots]]"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tokens"));
}

#[tokio::test]
async fn rate_limit_carries_retry_after_and_an_anthropic_error_body() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let (status, headers, body) = post(
        format!("{}/messages", fake.anthropic_base()),
        json!({"max_tokens": 5, "messages": [{"role": "user", "content": "[[status=429]]"}]}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn anthropic_requests_without_max_tokens_are_refused_like_the_real_api() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let (status, _, body) = post(
        format!("{}/messages", fake.anthropic_base()),
        json!({"messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(fake.last_request().unwrap()["messages"][0]["content"], "hi");
}

#[tokio::test]
async fn shutdown_cuts_stalled_streams_and_returns() {
    let fake = spawn(FakeOptions::default()).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.openai_base()))
        .json(&json!({"stream": true,
                      "messages": [{"role": "user", "content": "[[stall_after=1]]"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), fake.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        response.bytes().await.is_err(),
        "the stalled stream was cut"
    );
}

#[tokio::test]
async fn embeddings_need_the_key_and_come_in_order_with_the_model_size() {
    let fake = spawn(FakeOptions {
        require_api_key: Some("sk-embed".into()),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let url = format!("{}/embeddings", fake.openai_base());
    let body = json!({"model": "fake-embed-32", "input": ["refund policy", "refund"]});
    let (status, _, refused) = post(url.clone(), body.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(refused["error"]["code"], "invalid_api_key");
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-embed")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let out: Value = response.json().await.unwrap();
    let vectors: Vec<Vec<f64>> = (0..2)
        .map(|i| {
            assert_eq!(out["data"][i]["index"], i);
            serde_json::from_value(out["data"][i]["embedding"].clone()).unwrap()
        })
        .collect();
    assert!(vectors.iter().all(|v| v.len() == 32));
    let cosine: f64 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.5, "texts sharing a word are near: {cosine}");
}
