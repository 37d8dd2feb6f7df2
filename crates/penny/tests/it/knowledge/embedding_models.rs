//! Collections embedded by a tenant's embedding model: an OpenAI-compatible endpoint (the
//! fake provider's `/v1/embeddings`, which needs the key) registered under
//! `/api/v1/models` with `kind: embedding`; ingest and search through it, a change of a
//! collection's model that embeds every document again, and what is refused.

use serde_json::{json, Value};

use super::{add, collection, passages, settled};
use crate::chat::{Chat, KEY};
use crate::common::*;

/// The fake's model `fake-embed-64` answers vectors of 64 numbers.
const DIMS: i64 = 64;

async fn embedding_model(chat: &Chat, name: &str, key: &str) -> Value {
    let body = json!({"name": name, "kind": "embedding", "base_url": chat.fake.openai_base(),
        "api_key": key, "model": "fake-embed-64", "dimensions": DIMS});
    let res = chat.app.post(&chat.root, "/api/v1/models", body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn remote_collection(app: &TestApp, token: &str, name: &str, model: &str) -> String {
    let body = json!({"name": name, "embeddingModel": model});
    let res = app.post(token, "/api/v1/collections", body).await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["embeddingModel"], model);
    assert_eq!(c["embeddingDims"], DIMS);
    c["id"].as_str().unwrap().to_string()
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

const MARMALADE: &str = "Marmalade returns\n\nUnopened marmalade jars may be returned to the \
    Lisbon warehouse within forty days.";
const OBSERVATORY: &str = "Observatory hours\n\nThe hilltop observatory opens its telescope \
    to visitors on clear Thursday nights.";

async fn patch(app: &TestApp, token: &str, coll: &str, body: Value) -> reqwest::Response {
    let path = format!("/api/v1/collections/{coll}");
    app.send(reqwest::Method::PATCH, token, &path, body).await
}

async fn delete(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_embedded_by_a_tenant_model_finds_its_passages() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let m = embedding_model(&chat, "fake-embed", KEY).await;
    assert_eq!(
        (m["kind"].as_str(), m["dimensions"].as_i64()),
        (Some("embedding"), Some(DIMS))
    );
    assert_eq!(m["provider"], "openai");
    assert_eq!(m["has_api_key"], true);
    assert!(m.get("api_key").is_none());
    // Everyone sees the kinds (the chat's model picker leaves embedding models out).
    let (_, user) = app.user_with_role(root, "default", "creator").await;
    let listed: Vec<Value> = app.get(&user, "/api/v1/models").await.json().await.unwrap();
    let kinds: Vec<(&str, &str)> = listed
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("fake-embed", "embedding")), "{kinds:?}");
    assert!(kinds.contains(&("fake-gpt", "chat")), "{kinds:?}");

    let remote = remote_collection(app, &user, "Remote", "fake-embed").await;
    let doc = add(app, &user, &remote, "marmalade.txt", text(MARMALADE)).await;
    let doc = settled(app, &user, &doc).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    // The fake was asked for the passages' vectors with the upstream model id.
    let asked = chat.fake.last_request().unwrap();
    assert_eq!(asked["model"], "fake-embed-64");
    let stored = app
        .db
        .count("SELECT 1 FROM chunks WHERE dims = 64", None)
        .await;
    assert!(stored >= 1);

    for mode in ["vector", "hybrid"] {
        let found = passages(
            app,
            &user,
            json!({"query": "returning marmalade jars", "collections": [remote], "mode": mode}),
        )
        .await;
        assert!(!found.is_empty(), "{mode}");
        assert!(
            found[0]["content"].as_str().unwrap().contains("Lisbon"),
            "{mode}: {found:?}"
        );
    }

    // A search over collections of two models embeds the query with each.
    let local = collection(app, &user, "Local").await;
    let doc = add(app, &user, &local, "observatory.txt", text(OBSERVATORY)).await;
    assert_eq!(settled(app, &user, &doc).await["status"], "ready");
    let both = json!({"collections": [remote, local], "mode": "vector", "k": 8});
    for (query, expected) in [
        ("marmalade jars returned", "Lisbon"),
        ("observatory telescope visitors", "Thursday"),
    ] {
        let mut body = both.clone();
        body["query"] = json!(query);
        let found = passages(app, &user, body).await;
        assert!(
            found
                .iter()
                .any(|p| p["content"].as_str().unwrap().contains(expected)),
            "{query}: {found:?}"
        );
    }

    // An embedding model answers no message.
    let conv = chat.conversation(root).await;
    let res = app
        .post(
            root,
            &format!("/api/v1/chat/{conv}/messages"),
            json!({"content": "hello", "model": "fake-embed"}),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("embedding model"),
        "{problem}"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_collections_model_embeds_every_document_again() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let m = embedding_model(&chat, "fake-embed", KEY).await;
    let coll = collection(app, root, "Handbook").await;
    let mut docs = Vec::new();
    for (name, body) in [
        ("marmalade.txt", MARMALADE),
        ("observatory.txt", OBSERVATORY),
    ] {
        let doc = add(app, root, &coll, name, text(body)).await;
        let doc = settled(app, root, &doc).await;
        assert_eq!(doc["status"], "ready");
        docs.push(doc);
    }
    let count = |sql: &'static str| app.db.count(sql, None);
    assert_eq!(count("SELECT 1 FROM chunks WHERE dims <> 384").await, 0);

    let res = patch(app, root, &coll, json!({"embeddingModel": "fake-embed"})).await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!(
        (c["embeddingModel"].as_str(), c["embeddingDims"].as_i64()),
        (Some("fake-embed"), Some(DIMS))
    );
    for old in &docs {
        let doc = settled(app, root, old).await;
        assert_eq!(doc["status"], "ready", "{doc}");
        assert_eq!(doc["version"], old["version"].as_i64().unwrap() + 1);
    }
    assert_eq!(count("SELECT 1 FROM chunks WHERE dims <> 64").await, 0);
    let found = passages(
        app,
        root,
        json!({"query": "telescope visitors", "collections": [coll], "mode": "vector"}),
    )
    .await;
    assert!(
        found[0]["content"]
            .as_str()
            .unwrap()
            .contains("observatory"),
        "{found:?}"
    );

    // Collections use it: it cannot be removed or resized.
    let id = m["id"].as_str().unwrap();
    let res = delete(app, root, &format!("/api/v1/models/{id}")).await;
    assert_problem(res, 409, "conflict").await;
    let path = format!("/api/v1/models/{id}");
    let res = app
        .send(
            reqwest::Method::PATCH,
            root,
            &path,
            json!({"dimensions": 32}),
        )
        .await;
    assert_problem(res, 409, "conflict").await;

    // And back to the local model.
    let res = patch(
        app,
        root,
        &coll,
        json!({"embeddingModel": "local/all-MiniLM-L6-v2"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    for old in &docs {
        assert_eq!(settled(app, root, old).await["status"], "ready");
    }
    assert_eq!(count("SELECT 1 FROM chunks WHERE dims <> 384").await, 0);
    let found = passages(
        app,
        root,
        json!({"query": "marmalade returns", "collections": [coll], "mode": "vector"}),
    )
    .await;
    assert!(
        found[0]["content"].as_str().unwrap().contains("Lisbon"),
        "{found:?}"
    );
    let res = delete(app, root, &format!("/api/v1/models/{id}")).await;
    assert_eq!(res.status(), 204);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_embedding_models_are_refused_and_a_refused_key_fails_the_document() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, chat.root.as_str());
    let base = chat.fake.openai_base();
    // Models: an embedding model needs its size, cannot be the default, and only it has
    // a size.
    for (body, field) in [
        (
            json!({"name": "e1", "kind": "embedding", "base_url": base}),
            "dimensions",
        ),
        (
            json!({"name": "e2", "kind": "embedding", "base_url": base, "dimensions": 8, "is_default": true}),
            "is_default",
        ),
        (
            json!({"name": "local/mine", "kind": "embedding", "base_url": base, "dimensions": 8}),
            "name",
        ),
        (
            json!({"name": "c1", "provider": "openai", "base_url": base, "dimensions": 8}),
            "dimensions",
        ),
        (
            json!({"name": "k1", "kind": "vision", "provider": "openai", "base_url": base}),
            "kind",
        ),
    ] {
        let res = app.post(root, "/api/v1/models", body).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    let coll = collection(app, root, "Handbook").await;
    for (name, code) in [
        ("no-such-model", "unknown_embedding_model"),
        ("local/other-model", "unknown_embedding_model"),
        ("fake-gpt", "not_an_embedding_model"),
    ] {
        let res = app
            .post(
                root,
                "/api/v1/collections",
                json!({"name": "X", "embeddingModel": name}),
            )
            .await;
        assert_problem(res, 422, code).await;
        let res = patch(app, root, &coll, json!({"embeddingModel": name})).await;
        assert_problem(res, 422, code).await;
    }
    let c: Value = app
        .get(root, &format!("/api/v1/collections/{coll}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["embeddingModel"], "local/all-MiniLM-L6-v2");

    // The provider refuses the key: the document fails, saying so, without the key.
    embedding_model(&chat, "badly-keyed", "sk-wrong-secret").await;
    let bad = remote_collection(app, root, "Bad", "badly-keyed").await;
    let doc = add(app, root, &bad, "marmalade.txt", text(MARMALADE)).await;
    let doc = settled(app, root, &doc).await;
    assert_eq!(doc["status"], "failed", "{doc}");
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("refused the API key"), "{error}");
    assert!(!error.contains("sk-wrong"), "{error}");
    assert!(!error.contains("invalid"), "no upstream words: {error}");
    assert_eq!(app.db.count("SELECT 1 FROM chunks", None).await, 0);
    chat.stop().await;
}
