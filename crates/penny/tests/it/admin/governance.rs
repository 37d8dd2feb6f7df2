//! Policies (model and tool grants, the output-token cap, retention, the tenant's system
//! prompt) and themes.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::chat::Chat;
use crate::common::*;

fn policies(models: Value, tools: Value, cap: Value, retention: Value) -> Value {
    json!({"modelRoles": models, "toolRoles": tools, "maxTokensPerMessage": cap,
        "retentionDays": retention, "systemPrompt": null})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_round_trip_and_govern_models_and_tools() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, &chat.root);
    let small = json!({"name": "fake-small", "provider": "openai", "base_url": chat.fake.openai_base(),
        "api_key": crate::chat::KEY});
    body(app.post(root, "/api/v1/models", small).await, 201).await;
    let (_, creator) = app.user_with_role(root, "default", "creator").await;

    let empty = policies(json!({}), json!({}), Value::Null, Value::Null);
    assert_eq!(
        body(app.get(root, "/api/v1/policies").await, 200).await,
        empty
    );
    let doc = policies(
        json!({"fake-gpt": ["manager", "admin", "manager"]}),
        json!({"current_time": ["admin"]}),
        json!(64),
        json!(30),
    );
    let stored = body(
        app.send(Method::PUT, root, "/api/v1/policies", doc).await,
        200,
    )
    .await;
    let expected = policies(
        json!({"fake-gpt": ["admin", "manager"]}),
        json!({"current_time": ["admin"]}),
        json!(64),
        json!(30),
    );
    assert_eq!(stored, expected);
    assert_eq!(
        body(app.get(root, "/api/v1/policies").await, 200).await,
        expected
    );

    // Refused documents change nothing.
    for (bad, field) in [
        (
            policies(
                json!({"fake-gpt": ["root"]}),
                json!({}),
                Value::Null,
                Value::Null,
            ),
            "modelRoles.fake-gpt[0]",
        ),
        (
            policies(
                json!({"nope": ["admin"]}),
                json!({}),
                Value::Null,
                Value::Null,
            ),
            "modelRoles.nope",
        ),
        (
            policies(
                json!({}),
                json!({"nope": ["admin"]}),
                Value::Null,
                Value::Null,
            ),
            "toolRoles.nope",
        ),
        (
            policies(json!({}), json!({}), json!(0), Value::Null),
            "maxTokensPerMessage",
        ),
        (
            policies(json!({}), json!({}), Value::Null, json!(-1)),
            "retentionDays",
        ),
        (json!({"toolRoles": {}}), "modelRoles"),
    ] {
        let res = app.send(Method::PUT, root, "/api/v1/policies", bad).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(
        body(app.get(root, "/api/v1/policies").await, 200).await,
        expected
    );

    // A creator sees and uses only the open model.
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = body(app.get(&creator, "/api/v1/models").await, 200).await;
    assert_eq!(names(listed), ["fake-small"]);
    let listed = body(app.get(root, "/api/v1/models").await, 200).await;
    assert_eq!(names(listed), ["fake-gpt", "fake-small"]);
    let conv = chat.conversation(&creator).await;
    let path = format!("/api/v1/chat/{conv}/messages");
    let res = app.post(&creator, &path, json!({"content": "hi"})).await;
    assert_problem(res, 403, "model_forbidden").await;
    let res = app
        .post(
            &creator,
            &path,
            json!({"content": "hi", "model": "fake-gpt"}),
        )
        .await;
    assert_problem(res, 403, "model_forbidden").await;
    let res = app
        .post(
            &creator,
            &path,
            json!({"content": "hi", "model": "fake-small"}),
        )
        .await;
    body(res, 202).await;
    // The WebSocket path refuses it the same way.
    let conv = chat.conversation(&creator).await;
    let frame = ws_send(
        &chat,
        &creator,
        &conv,
        json!({"type": "send", "content": "hi"}),
    )
    .await;
    assert_eq!(
        (frame["type"].clone(), frame["code"].clone()),
        (json!("error"), json!("model_forbidden")),
        "{frame}"
    );
    let frame = ws_send(
        &chat,
        &creator,
        &conv,
        json!({"type": "send", "content": "hi", "model": "fake-small"}),
    )
    .await;
    assert_eq!(frame["type"], "accepted", "{frame}");

    // Tool grants are the ones GET /tools shows.
    let tool = |tools: &Value| -> Value {
        tools
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "current_time")
            .unwrap()
            .clone()
    };
    let t = tool(&body(app.get(&creator, "/api/v1/tools").await, 200).await);
    assert_eq!(
        (
            t["roles"].clone(),
            t["customRoles"].clone(),
            t["usable"].clone()
        ),
        (json!(["admin"]), json!(true), json!(false))
    );
    // Leaving a tool out returns it to its default grant.
    let doc = policies(json!({}), json!({}), Value::Null, Value::Null);
    body(
        app.send(Method::PUT, root, "/api/v1/policies", doc).await,
        200,
    )
    .await;
    let t = tool(&body(app.get(&creator, "/api/v1/tools").await, 200).await);
    assert_eq!(
        (t["customRoles"].clone(), t["usable"].clone()),
        (json!(false), json!(true))
    );
    let listed = body(app.get(&creator, "/api/v1/models").await, 200).await;
    assert_eq!(names(listed), ["fake-gpt", "fake-small"]);

    let trail = audit(app, root, "action=policies.update").await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);
    assert_eq!(trail["items"][1]["details"], expected);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_cap_reaches_the_provider() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut sse = chat.send_sse(&conv, json!({"content": "one"})).await;
    sse.until(&["run.completed"]).await;
    // The model's own maximum (1024 by default) without a policy.
    assert_eq!(chat.fake.last_request().unwrap()["max_tokens"], 1024);

    let doc = policies(json!({}), json!({}), json!(77), Value::Null);
    let res = chat
        .app
        .send(Method::PUT, &chat.root, "/api/v1/policies", doc)
        .await;
    body(res, 200).await;
    let mut sse = chat.send_sse(&conv, json!({"content": "two"})).await;
    let events = sse.until(&["run.completed", "run.failed"]).await;
    assert_eq!(events.last().unwrap().event, "run.completed");
    assert_eq!(chat.fake.last_request().unwrap()["max_tokens"], 77);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_system_prompt_comes_before_the_conversations() {
    let chat = Chat::start().await;
    let (app, root) = (&chat.app, &chat.root);
    let mut doc = policies(json!({}), json!({}), Value::Null, Value::Null);
    doc["systemPrompt"] = json!("  Answer in British English.  ");
    let stored = body(
        app.send(Method::PUT, root, "/api/v1/policies", doc).await,
        200,
    )
    .await;
    assert_eq!(
        stored["systemPrompt"], "Answer in British English.",
        "trimmed"
    );

    let conv = body(
        app.post(
            root,
            "/api/v1/conversations",
            json!({"system_prompt": "You are a tutor."}),
        )
        .await,
        201,
    )
    .await;
    let conv = conv["id"].as_str().unwrap();
    let mut sse = chat.send_sse(conv, json!({"content": "hello"})).await;
    sse.until(&["run.completed"]).await;
    let sent = chat.fake.last_request().unwrap();
    let system = sent["messages"][0].clone();
    assert_eq!(system["role"], "system", "{sent}");
    assert_eq!(
        system["content"], "Answer in British English.\n\nYou are a tutor.",
        "{sent}"
    );

    // Too long is refused and changes nothing; empty clears it.
    let mut long = policies(json!({}), json!({}), Value::Null, Value::Null);
    long["systemPrompt"] = json!("x".repeat(8001));
    let res = app.send(Method::PUT, root, "/api/v1/policies", long).await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert!(problem.to_string().contains("systemPrompt"), "{problem}");
    let kept = body(app.get(root, "/api/v1/policies").await, 200).await;
    assert_eq!(kept["systemPrompt"], "Answer in British English.");
    let mut cleared = policies(json!({}), json!({}), Value::Null, Value::Null);
    cleared["systemPrompt"] = json!("   ");
    let stored = body(
        app.send(Method::PUT, root, "/api/v1/policies", cleared)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["systemPrompt"], Value::Null);
    let mut sse = chat.send_sse(conv, json!({"content": "again"})).await;
    sse.until(&["run.completed"]).await;
    let sent = chat.fake.last_request().unwrap();
    assert_eq!(sent["messages"][0]["content"], "You are a tutor.", "{sent}");
    chat.stop().await;
}

#[tokio::test]
async fn the_retention_sweep_deletes_only_old_conversations_of_that_tenant() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let beta = app.tenant_with_admin(&root, "beta").await;
    let conv = |token: String| {
        let app = &app;
        async move {
            let c = body(
                app.post(&token, "/api/v1/conversations", json!({})).await,
                201,
            )
            .await;
            c["id"].as_str().unwrap().to_string()
        }
    };
    let (old, recent, beta_old) = (
        conv(root.clone()).await,
        conv(root.clone()).await,
        conv(beta.clone()).await,
    );
    let doc = policies(json!({}), json!({}), Value::Null, json!(30));
    body(
        app.send(Method::PUT, &root, "/api/v1/policies", doc).await,
        200,
    )
    .await;
    let mut owner = app.db.owner().await;
    for (id, days) in [(&old, 31), (&recent, 29), (&beta_old, 400)] {
        sqlx::query("UPDATE conversations SET updated_at = now() - make_interval(days => $2) WHERE id = $1::uuid")
            .bind(id)
            .bind(days)
            .execute(&mut owner)
            .await
            .unwrap();
    }

    // Uploads and artifacts of no conversation age out too; recent ones stay.
    let mut made = Vec::new();
    for name in ["old.txt", "new.txt"] {
        let res = crate::tools::upload(&app, &root, name, b"words".to_vec()).await;
        let file = body(res, 201).await;
        let res = app
            .post(
                &root,
                "/api/v1/artifacts",
                json!({"type": "markdown", "title": name, "content": "# notes"}),
            )
            .await;
        let artifact = body(res, 201).await;
        made.push((
            file["id"].as_str().unwrap().to_string(),
            artifact["id"].as_str().unwrap().to_string(),
        ));
    }
    let (old_file, old_artifact) = &made[0];
    sqlx::query("UPDATE files SET created_at = now() - interval '31 days' WHERE id = $1::uuid")
        .bind(old_file)
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query("UPDATE artifacts SET updated_at = now() - interval '31 days' WHERE id = $1::uuid")
        .bind(old_artifact)
        .execute(&mut owner)
        .await
        .unwrap();

    let store = &app.running.as_ref().unwrap().store;
    assert_eq!(
        penny_store::policies::sweep_retention(store).await.unwrap(),
        3
    );
    for (file, artifact, status) in [(&made[0].0, &made[0].1, 404), (&made[1].0, &made[1].1, 200)] {
        let res = app
            .get(&root, &format!("/api/v1/artifacts/{artifact}"))
            .await;
        assert_eq!(res.status(), status, "artifact {artifact}");
        let res = app.get(&root, &format!("/api/v1/files/{file}")).await;
        assert_eq!(res.status(), status, "file {file}");
    }
    assert_eq!(
        penny_store::policies::sweep_retention(store).await.unwrap(),
        0
    );
    let res = app
        .get(&root, &format!("/api/v1/conversations/{old}"))
        .await;
    assert_problem(res, 404, "not_found").await;
    body(
        app.get(&root, &format!("/api/v1/conversations/{recent}"))
            .await,
        200,
    )
    .await;
    body(
        app.get(&beta, &format!("/api/v1/conversations/{beta_old}"))
            .await,
        200,
    )
    .await;

    let trail = audit(&app, &root, "action=conversation.retention_purge").await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        trail["items"][0]["details"],
        json!({"deleted": 1, "artifacts": 1, "files": 1, "retentionDays": 30})
    );
    assert_eq!(trail["items"][0]["actorId"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn themes_have_defaults_are_checked_and_stay_in_their_tenant() {
    let app = TestApp::spawn().await;
    let root = app.root_token().await;
    let (_, viewer) = app.user_with_role(&root, "default", "viewer").await;
    let defaults = json!({"name": "Default", "logoUrl": null, "accentColor": "#4f46e5"});
    assert_eq!(
        body(app.get(&viewer, "/api/v1/themes").await, 200).await,
        defaults
    );

    let put = |theme: Value| app.send(Method::PUT, &root, "/api/v1/themes", theme);
    let png = |bytes: usize| {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(vec![7u8; bytes]);
        format!("data:image/png;base64,{data}")
    };
    for (bad, field) in [
        (
            json!({"name": "Acme", "logoUrl": null, "accentColor": "#12345"}),
            "accentColor",
        ),
        (
            json!({"name": "Acme", "logoUrl": null, "accentColor": "red"}),
            "accentColor",
        ),
        (
            json!({"name": "Acme", "logoUrl": png(300 * 1024), "accentColor": "#123456"}),
            "logoUrl",
        ),
        (
            json!({"name": "Acme", "logoUrl": "http://example.com/a.png", "accentColor": "#123456"}),
            "logoUrl",
        ),
        (
            json!({"name": "Acme", "logoUrl": "data:text/html;base64,PGI+", "accentColor": "#123456"}),
            "logoUrl",
        ),
    ] {
        let problem = assert_problem(put(bad).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let logo = png(256 * 1024);
    let theme = json!({"name": "Acme, \"EU\"", "logoUrl": logo, "accentColor": "#FF00aa"});
    let stored = body(put(theme).await, 200).await;
    let expected = json!({"name": "Acme, \"EU\"", "logoUrl": logo, "accentColor": "#ff00aa"});
    assert_eq!(stored, expected);
    assert_eq!(
        body(app.get(&viewer, "/api/v1/themes").await, 200).await,
        expected
    );
    // A null name goes back to the tenant's.
    let theme = json!({"name": null, "logoUrl": "https://cdn.example.com/logo.svg", "accentColor": "#000000"});
    let stored = body(put(theme).await, 200).await;
    assert_eq!(stored["name"], "Default");

    let beta = app.tenant_with_admin(&root, "beta").await;
    let beta_defaults = json!({"name": "beta", "logoUrl": null, "accentColor": "#4f46e5"});
    assert_eq!(
        body(app.get(&beta, "/api/v1/themes").await, 200).await,
        beta_defaults
    );
    let res = anon(&app, Method::GET, "/api/v1/themes", None).await;
    assert_problem(res, 401, "unauthenticated").await;
    let trail = audit(&app, &root, "action=theme.update").await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);
    app.stop().await;
}

/// Sends one frame over `/ws/chat/{conv}` as `token`; returns the answer to it (an
/// `accepted` or an `error` frame), skipping the conversation's events.
async fn ws_send(chat: &Chat, token: &str, conv: &str, frame: Value) -> Value {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{}/ws/chat/{conv}", chat.app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for out in [json!({"type": "auth", "token": token}), frame] {
        ws.send(Message::Text(out.to_string().into()))
            .await
            .unwrap();
    }
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("a frame within 30 s")
            .expect("the socket is open")
            .unwrap();
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        if matches!(v["type"].as_str(), Some("accepted" | "error")) {
            return v;
        }
    }
}
