//! The chat over a WebSocket (`/ws/chat/{id}`): auth in the first frame, streaming,
//! resuming on a new socket, cancelling, malformed frames, and other people's
//! conversations.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::chat::Chat;
use crate::common::*;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

impl Chat {
    async fn connect(&self, conv: &str) -> Socket {
        let url = format!("ws://{}/ws/chat/{conv}", self.app.addr);
        let (socket, res) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(res.status(), 101);
        socket
    }

    /// A socket on `conv`, authenticated as `token`, past `ready`.
    async fn authed(&self, token: &str, conv: &str) -> Socket {
        self.authed_with(json!({"type": "auth", "token": token}), conv)
            .await
    }

    /// A socket on `conv` past `ready`, after the auth frame `auth`.
    async fn authed_with(&self, auth: Value, conv: &str) -> Socket {
        let mut ws = self.connect(conv).await;
        send(&mut ws, auth).await;
        let ready = next(&mut ws).await;
        assert_eq!(ready["type"], "ready", "{ready}");
        assert_eq!(ready["conversationId"], conv);
        ws
    }
}

pub(crate) async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON frame (WebSocket pings and pongs skipped).
pub(crate) async fn next(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a frame within 30 s")
            .expect("the socket is open")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }
}

/// Frames up to and including the first whose type is one of `until`.
async fn until(ws: &mut Socket, until: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let f = next(ws).await;
        let stop = until.contains(&f["type"].as_str().unwrap());
        out.push(f);
        if stop {
            return out;
        }
    }
}

/// Reads until the server closes the socket; its close code and reason.
async fn closed(ws: &mut Socket) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a close within 30 s");
        match msg {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// The conversation's events (frames with a seq) among `frames`.
fn events(frames: &[Value]) -> Vec<&Value> {
    frames.iter().filter(|f| f["seq"].is_i64()).collect()
}

fn deltas(frames: &[&Value]) -> usize {
    frames
        .iter()
        .filter(|f| f["type"] == "message.delta")
        .count()
}

fn text(frames: &[&Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "message.delta")
        .map(|f| f["text"].as_str().unwrap())
        .collect()
}

/// Sends a message of `tokens` tokens (20 ms apart) on a socket, reads until `deltas` of
/// them came, drops the socket and stays away `away_ms` while the run goes on. Returns the
/// frames read and the last seq among them.
async fn dropped_mid_stream(
    chat: &Chat,
    conv: &str,
    tokens: usize,
    deltas_first: usize,
    away_ms: u64,
) -> (Vec<Value>, i64) {
    let mut first = chat.authed(&chat.root, conv).await;
    let content = format!("go [[tokens={tokens} delay_ms=20]]");
    send(&mut first, json!({"type": "send", "content": content})).await;
    let mut seen = Vec::new();
    while deltas(&events(&seen)) < deltas_first {
        seen.push(next(&mut first).await);
    }
    drop(first);
    tokio::time::sleep(Duration::from_millis(away_ms)).await; // deltas go on while away
    let last = events(&seen).last().unwrap()["seq"].as_i64().unwrap();
    (seen, last)
}

fn assert_contiguous(frames: &[&Value]) {
    for pair in frames.windows(2) {
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1,
            "{} then {}",
            pair[0],
            pair[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_without_auth_frame_is_closed_with_4401() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.connect(&conv).await;
    let started = std::time::Instant::now();
    assert_eq!(closed(&mut ws).await, (4401, "unauthenticated".into()));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_with_bad_token_is_closed_with_4401() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    for first in [
        json!({"type": "auth", "token": "not-a-token"}),
        json!({"type": "auth", "token": "pk_not_a_key"}),
        json!({"type": "send", "content": "hi"}),
    ] {
        let mut ws = chat.connect(&conv).await;
        send(&mut ws, first).await;
        assert_eq!(closed(&mut ws).await, (4401, "unauthenticated".into()));
    }
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_streams_a_sent_message_token_by_token() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    send(
        &mut ws,
        json!({"type": "send", "content": "Hello [[tokens=5 delay_ms=20]]"}),
    )
    .await;
    let frames = until(&mut ws, &["run.completed", "run.failed"]).await;
    let accepted = frames.iter().find(|f| f["type"] == "accepted").unwrap();
    let run = accepted["runId"].as_str().unwrap();
    assert!(accepted["messageId"].is_string() && accepted["assistantMessageId"].is_string());
    let evs = events(&frames);
    assert_eq!(evs[0]["type"], "run.started");
    assert_eq!(evs[0]["runId"], run);
    assert_eq!(evs.last().unwrap()["type"], "run.completed", "{frames:?}");
    assert_eq!(tokens_in(&text(&evs)), 5);
    assert_contiguous(&evs);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["id"], accepted["assistantMessageId"]);
    assert_eq!(branch[1]["status"], "complete");
    assert_eq!(branch[1]["content"], text(&evs).as_str());
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_resume_after_reconnect_has_no_gap_or_duplicate() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let (mut seen, last) = dropped_mid_stream(&chat, &conv, 30, 5, 150).await;
    let auth = json!({"type": "auth", "token": chat.root, "after": last});
    let mut again = chat.authed_with(auth, &conv).await;
    seen.extend(until(&mut again, &["run.completed"]).await);
    let evs = events(&seen);
    assert_eq!(evs[0]["type"], "run.started");
    assert_contiguous(&evs);
    assert_eq!(tokens_in(&text(&evs)), 30);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["content"], text(&evs).as_str());
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_ws_gets_live_events_right_after_auth() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    // Authenticates and then only reads: no `resume`, no other frame.
    let mut listener = chat.authed(&chat.root, &conv).await;
    let mut sender = chat.authed(&chat.root, &conv).await;
    send(
        &mut sender,
        json!({"type": "send", "content": "hi [[tokens=6 delay_ms=10]]"}),
    )
    .await;
    let frames = until(&mut listener, &["run.completed", "run.failed"]).await;
    let evs = events(&frames);
    assert_eq!(evs[0]["type"], "run.started", "{frames:?}");
    assert_eq!(evs.last().unwrap()["type"], "run.completed");
    assert_contiguous(&evs);
    assert_eq!(tokens_in(&text(&evs)), 6);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_resume_replays_from_its_after_mid_stream() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let (mut seen, last) = dropped_mid_stream(&chat, &conv, 40, 3, 100).await;
    // A new socket without `after`: live events start at `ready`'s lastSeq, beyond `last`.
    let mut again = chat.authed(&chat.root, &conv).await;
    let early = next(&mut again).await;
    assert!(early["seq"].as_i64().unwrap() > last + 1, "{early}");
    send(&mut again, json!({"type": "resume", "after": last})).await;
    let after = until(&mut again, &["run.completed"]).await;
    // Whatever the old stream had in flight comes first; the replay starts at last + 1.
    let evs = events(&after);
    let from = evs
        .iter()
        .position(|e| e["seq"].as_i64() == Some(last + 1))
        .expect("the replay starts right after `after`");
    seen.extend(evs[from..].iter().map(|e| (*e).clone()));
    let evs = events(&seen);
    assert_contiguous(&evs);
    assert_eq!(tokens_in(&text(&evs)), 40);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ws_frames_get_an_error_and_the_socket_stays_usable() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    ws.send(Message::Text("not json".into())).await.unwrap();
    let e = next(&mut ws).await;
    assert_eq!(
        (&e["type"], &e["code"]),
        (&json!("error"), &json!("invalid_frame"))
    );
    send(&mut ws, json!({"type": "nope"})).await;
    let e = next(&mut ws).await;
    assert_eq!(e["code"], "invalid_frame");
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    send(&mut ws, json!({"type": "send", "content": 5})).await;
    let e = next(&mut ws).await;
    assert_eq!(e["code"], "invalid_frame");
    assert!(e["message"].as_str().unwrap().contains("content"), "{e}");
    for bad in [
        json!(["type", "ping"]),
        json!({"type": "resume", "after": "x"}),
        json!({"type": "cancel", "runId": "not-a-uuid"}),
        json!({"type": "send", "content": "hi", "surprise": true}),
        json!({"type": "auth", "token": chat.root}),
    ] {
        send(&mut ws, bad.clone()).await;
        let e = next(&mut ws).await;
        assert_eq!(e["code"], "invalid_frame", "{bad} → {e}");
    }
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["code"], "invalid_frame");
    // Refused requests carry the code HTTP would give.
    send(
        &mut ws,
        json!({"type": "send", "content": "hi", "model": "no-such-model"}),
    )
    .await;
    let e = next(&mut ws).await;
    assert_eq!(
        (&e["code"], &e["field"]),
        (&json!("validation_failed"), &json!("model")),
        "{e}"
    );
    send(&mut ws, json!({"type": "send", "content": "   "})).await;
    assert_eq!(next(&mut ws).await["code"], "validation_failed");
    send(
        &mut ws,
        json!({"type": "cancel", "runId": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], "not_found");

    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_to_another_tenants_conversation_is_closed_with_4404() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let (_, colleague) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let stranger = chat.app.tenant_with_admin(&chat.root, "stranger").await;
    for token in [&colleague, &stranger] {
        let mut ws = chat.connect(&conv).await;
        send(&mut ws, json!({"type": "auth", "token": token})).await;
        assert_eq!(closed(&mut ws).await, (4404, "not found".into()));
    }
    let mut ws = chat.connect(&uuid::Uuid::new_v4().to_string()).await;
    send(&mut ws, json!({"type": "auth", "token": chat.root})).await;
    assert_eq!(closed(&mut ws).await, (4404, "not found".into()));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_of_a_suspended_tenant_is_closed_with_4403() {
    let chat = Chat::start().await;
    let stranger = chat.app.tenant_with_admin(&chat.root, "stranger").await;
    // Written directly: the API caches a tenant's status for a few seconds, and the
    // stranger's token must not have been used before it is suspended.
    let mut owner = chat.app.db.owner().await;
    let conv: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO conversations (tenant_id, user_id) \
         SELECT tenant_id, id FROM users WHERE email = 'admin@stranger.example' RETURNING id",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let conv = conv.to_string();
    sqlx::query("UPDATE tenants SET status = 'suspended' WHERE slug = 'stranger'")
        .execute(&mut owner)
        .await
        .unwrap();
    let mut ws = chat.connect(&conv).await;
    send(&mut ws, json!({"type": "auth", "token": stranger})).await;
    assert_eq!(closed(&mut ws).await, (4403, "tenant suspended".into()));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_cancel_stops_the_run() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    send(
        &mut ws,
        json!({"type": "send", "content": "long [[tokens=200 delay_ms=20]]"}),
    )
    .await;
    let mut got = Vec::new();
    while deltas(&events(&got)) < 3 || !got.iter().any(|f| f["type"] == "accepted") {
        got.push(next(&mut ws).await);
    }
    let run = got.iter().find(|f| f["type"] == "accepted").unwrap()["runId"].clone();
    send(&mut ws, json!({"type": "cancel", "runId": run})).await;
    got.extend(until(&mut ws, &["run.cancelled", "run.completed", "run.failed"]).await);
    assert_eq!(events(&got).last().unwrap()["type"], "run.cancelled");
    assert!(
        got.iter()
            .any(|f| f["type"] == "cancelled" && f["runId"] == run),
        "the cancel is acknowledged: {got:?}"
    );
    let evs = events(&got);
    assert_contiguous(&evs);
    assert!(deltas(&evs) < 200);
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[1]["status"], "cancelled");
    let stored = branch[1]["content"].as_str().unwrap();
    assert!(!stored.is_empty() && stored == text(&evs), "{stored:?}");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_outlives_the_http_request_timeout() {
    let chat = Chat::start_with(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}));
    send(
        &mut ws,
        json!({"type": "send", "content": "hi [[tokens=3]]"}),
    )
    .await;
    let frames = until(&mut ws, &["run.completed", "run.failed"]).await;
    assert_eq!(frames.last().unwrap()["type"], "run.completed");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ws_role_alone_serves_the_seed_path_and_not_the_api() {
    use penny::config::{Config, Source};
    use penny::roles::{Role, Roles};
    let db = TestDb::create().await;
    let data = temp_dir("ws-alone");
    let cfg = Config::load(&Source::from_pairs(base_env(&db, &data)).unwrap()).unwrap();
    let running = penny::serve::start(&cfg, &Roles::new(vec![Role::Ws]), Some(0))
        .await
        .unwrap();
    let url = |p: &str| format!("http://{}{p}", running.addr);
    let http = reqwest::Client::new();
    assert_eq!(http.get(url("/ready")).send().await.unwrap().status(), 200);
    assert_eq!(
        http.get(url("/api/v1/me")).send().await.unwrap().status(),
        404
    );
    for path in ["/chat/", "/ws/chat/"] {
        // A plain GET is refused as "not an upgrade", proving the route exists.
        let res = http
            .get(url(&format!("{path}{}", uuid::Uuid::new_v4())))
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error() && res.status() != 404,
            "{path}: {}",
            res.status()
        );
    }
    running.stop().await;
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_replies_echo_the_frames_id_as_request_id() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    send(
        &mut ws,
        json!({"type": "send", "id": "s-1", "content": "long [[tokens=200 delay_ms=20]]"}),
    )
    .await;
    let mut got = Vec::new();
    while !got.iter().any(|f: &Value| f["type"] == "accepted") {
        got.push(next(&mut ws).await);
    }
    let accepted = got.last().unwrap().clone();
    assert_eq!(accepted["requestId"], "s-1", "{accepted}");
    assert!(
        events(&got).iter().all(|e| e.get("requestId").is_none()),
        "events carry no requestId: {got:?}"
    );
    // A refused send while the run goes on: its error names the frame that caused it.
    send(
        &mut ws,
        json!({"type": "send", "id": "s-2", "content": "hi", "model": "no-such-model"}),
    )
    .await;
    let refused = until(&mut ws, &["error"]).await.pop().unwrap();
    assert_eq!(
        (&refused["code"], &refused["requestId"]),
        (&json!("validation_failed"), &json!("s-2")),
        "{refused}"
    );
    // A frame that cannot be read still echoes its id; so does a ping.
    send(&mut ws, json!({"type": "cancel", "id": "c-0", "runId": 5})).await;
    let bad = until(&mut ws, &["error"]).await.pop().unwrap();
    assert_eq!(
        (&bad["code"], &bad["requestId"]),
        (&json!("invalid_frame"), &json!("c-0"))
    );
    send(&mut ws, json!({"type": "ping", "id": "p"})).await;
    let pong = until(&mut ws, &["pong"]).await.pop().unwrap();
    assert_eq!(pong, json!({"type": "pong", "requestId": "p"}));
    send(
        &mut ws,
        json!({"type": "cancel", "id": "c-1", "runId": accepted["runId"]}),
    )
    .await;
    let frames = until(&mut ws, &["cancelled"]).await;
    let cancelled = frames.last().unwrap();
    assert_eq!(
        (&cancelled["runId"], &cancelled["requestId"]),
        (&accepted["runId"], &json!("c-1"))
    );
    let tail = until(&mut ws, &["run.cancelled", "run.completed"]).await;
    assert_eq!(tail.last().unwrap()["type"], "run.cancelled");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_frames_without_an_id_are_answered_without_request_id() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}));
    send(
        &mut ws,
        json!({"type": "send", "content": "hi [[tokens=3]]"}),
    )
    .await;
    let frames = until(&mut ws, &["run.completed", "run.failed"]).await;
    let accepted = frames.iter().find(|f| f["type"] == "accepted").unwrap();
    assert!(accepted.get("requestId").is_none(), "{accepted}");
    send(
        &mut ws,
        json!({"type": "send", "content": "hi", "model": "no-such-model"}),
    )
    .await;
    let e = next(&mut ws).await;
    assert_eq!(e["code"], "validation_failed");
    assert!(e.get("requestId").is_none(), "{e}");
    // An id that is not a short string is refused, and the socket stays usable.
    for bad in [json!(7), json!("x".repeat(65)), json!({"a": 1})] {
        send(&mut ws, json!({"type": "ping", "id": bad})).await;
        let e = next(&mut ws).await;
        assert_eq!(e["code"], "invalid_frame", "{e}");
        assert!(e["message"].as_str().unwrap().contains("id"), "{e}");
        assert!(e.get("requestId").is_none(), "{e}");
    }
    send(&mut ws, json!({"type": "ping", "id": "x".repeat(64)})).await;
    assert_eq!(next(&mut ws).await["requestId"], "x".repeat(64));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_frame_many_times_the_read_buffer_arrives_whole() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    // Eleven times the socket's 8 KiB read buffer, within the 100 000 characters allowed.
    let content = format!("{} [[tokens=2]]", "word ".repeat(18_000).trim_end());
    send(&mut ws, json!({"type": "send", "content": content})).await;
    let frames = until(&mut ws, &["run.completed", "run.failed"]).await;
    assert!(frames.iter().any(|f| f["type"] == "accepted"), "{frames:?}");
    assert_eq!(frames.last().unwrap()["type"], "run.completed");
    let branch = chat.settled(&conv).await;
    assert_eq!(branch[0]["content"], content.as_str());
    chat.stop().await;
}

/// Finds the id of the tenant with `slug`, as the super-admin sees it.
async fn tenant_id(chat: &Chat, slug: &str) -> String {
    let tenants: Vec<Value> = chat
        .app
        .get(&chat.root, "/api/v1/tenants")
        .await
        .json()
        .await
        .unwrap();
    tenants.iter().find(|t| t["slug"] == slug).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_ws_is_closed_with_4401_when_its_user_is_deactivated() {
    let chat = Chat::start().await;
    let (id, token) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let conv = chat.conversation(&token).await;
    let mut ws = chat.authed(&token, &conv).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await["type"], "pong");

    let res = chat
        .app
        .send(
            reqwest::Method::PATCH,
            &chat.root,
            &format!("/api/v1/users/{id}"),
            json!({"status": "deactivated"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A socket that only listens is closed too, within the access check's interval.
    assert_eq!(closed(&mut ws).await, (4401, "unauthenticated".into()));

    // And a socket that sends is closed at its next frame, without acting on it.
    let (_, other) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let conv = chat.conversation(&other).await;
    let mut ws = chat.authed(&other, &conv).await;
    let res = chat
        .app
        .http
        .post(chat.app.url("/api/v1/auth/logout"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    send(&mut ws, json!({"type": "send", "content": "after logout"})).await;
    assert_eq!(closed(&mut ws).await, (4401, "unauthenticated".into()));
    let messages = chat
        .app
        .db
        .count(
            "SELECT 1 FROM messages WHERE conversation_id = $1::uuid",
            Some(&conv),
        )
        .await;
    assert_eq!(messages, 0, "a frame after the logout is not acted on");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_a_tenant_closes_its_open_sockets_with_4403() {
    let chat = Chat::start().await;
    let stranger = chat.app.tenant_with_admin(&chat.root, "stranger").await;
    let conv = chat.conversation(&stranger).await;
    let mut ws = chat.authed(&stranger, &conv).await;
    send(&mut ws, json!({"type": "resume", "after": 0})).await;

    let id = tenant_id(&chat, "stranger").await;
    let res = chat
        .app
        .send(
            reqwest::Method::PATCH,
            &chat.root,
            &format!("/api/v1/tenants/{id}"),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(closed(&mut ws).await, (4403, "tenant suspended".into()));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_frames_spend_the_callers_rate_limit() {
    let chat = Chat::start_with(&[("RATE_LIMIT_PER_MINUTE", "8")]).await;
    let conv = chat.conversation(&chat.root).await;
    let mut ws = chat.authed(&chat.root, &conv).await;
    let mut refused = None;
    for _ in 0..20 {
        send(&mut ws, json!({"type": "ping"})).await;
        let f = next(&mut ws).await;
        if f["type"] == "error" {
            refused = Some(f);
            break;
        }
        assert_eq!(f["type"], "pong", "{f}");
    }
    let refused = refused.expect("frames past the limit are refused");
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(refused["retryAfter"].as_u64().unwrap() >= 1, "{refused}");
    // The socket stays open, and HTTP shares the same window.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await["code"], "rate_limited");
    assert_problem(
        chat.app.get(&chat.root, "/api/v1/me").await,
        429,
        "rate_limited",
    )
    .await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_holds_at_most_max_streams_per_user() {
    let chat = Chat::start_with(&[("MAX_STREAMS_PER_USER", "2")]).await;
    let conv = chat.conversation(&chat.root).await;
    let first = chat.authed(&chat.root, &conv).await;
    let _second = chat.authed(&chat.root, &conv).await;

    let mut third = chat.connect(&conv).await;
    send(&mut third, json!({"type": "auth", "token": chat.root})).await;
    assert_eq!(closed(&mut third).await, (4429, "too many streams".into()));
    let res = chat
        .app
        .get(&chat.root, &format!("/api/v1/conversations/{conv}/events"))
        .await;
    assert_problem(res, 429, "too_many_streams").await;
    // Another user is not affected.
    let (_, other) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let theirs = chat.conversation(&other).await;
    let _theirs = chat.authed(&other, &theirs).await;

    // A closed socket gives its slot back.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let mut ws = chat.connect(&conv).await;
        send(&mut ws, json!({"type": "auth", "token": chat.root})).await;
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap();
        if let Some(Ok(Message::Text(t))) = msg {
            assert!(t.as_str().contains("\"ready\""), "{t}");
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the slot came back");
    chat.stop().await;
}
