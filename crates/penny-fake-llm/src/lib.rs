//! A fake model server speaking OpenAI Chat Completions and Anthropic Messages, streamed
//! or not, so that PENNY's tests, benchmarks and demos run the real client code.
//!
//! What it answers is scripted by `[[key=value ...]]` directives anywhere in the last user
//! message, so a test or a demo steers it through an ordinary chat:
//!
//! | directive | effect |
//! | --- | --- |
//! | (none) | `Echo: <user text>` in `default_tokens` tokens, padded with `t3 t4 …` |
//! | `tokens=N` | the echo in N tokens |
//! | `delay_ms=N` | N ms between tokens (instead of `token_delay`) |
//! | `tool=NAME args=JSON` | a call of tool NAME, its arguments streamed in small pieces |
//! | `status=CODE` | that HTTP error, with a provider-style body (429: `Retry-After: 1`) |
//! | `fail_first=N` | only the first N requests with this exact text fail (503 by default) |
//! | `disconnect_after=N` | N tokens, then the connection is dropped |
//! | `stall_after=N` | N tokens, then silence with the connection open |
//!
//! `POST /v1/embeddings` answers deterministic vectors (a hashed bag of words, so texts
//! sharing words are near; see [`embeddings`]), behind the same API key.
//!
//! When the request's last message is a tool result, the reply is
//! `Tool result: <its first 200 characters>`, so a tool loop completes (after a document
//! search it quotes the first passage's first sentence and cites it, `"…" [1]`). Usage: input
//! tokens are the characters of all messages / 4 (rounded up); output tokens are the
//! tokens sent.

mod anthropic;
pub mod embeddings;
mod openai;
mod script;
mod stream;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use script::{Conversation, Outcome, Plan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOptions {
    /// Tokens in a reply when the message does not say `tokens=N`.
    pub default_tokens: usize,
    /// Pause between two tokens when the message does not say `delay_ms=N`.
    pub token_delay: Duration,
    /// When set, requests must carry this key (`Authorization: Bearer` or `x-api-key`).
    pub require_api_key: Option<String>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            default_tokens: 8,
            token_delay: Duration::ZERO,
            require_api_key: None,
        }
    }
}

/// A running fake. It stops when dropped or on [`shutdown`](FakeServer::shutdown).
#[derive(Debug)]
pub struct FakeServer {
    pub addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl FakeServer {
    /// `http://addr/v1`, the OpenAI-compatible base URL.
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://addr/v1`, the Anthropic base URL (the same routes live side by side).
    pub fn anthropic_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far, of every kind.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The JSON body of the last POST that had one.
    pub fn last_request(&self) -> Option<Value> {
        lock(&self.state.last_request).clone()
    }

    /// Stops the server, cutting streams still open, and waits until it has stopped.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.send_replace(true);
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts a fake on a free port of 127.0.0.1.
pub async fn spawn(opts: FakeOptions) -> io::Result<FakeServer> {
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), opts).await
}

/// Starts a fake on `addr` (port 0 picks a free one).
pub async fn spawn_on(addr: SocketAddr, opts: FakeOptions) -> io::Result<FakeServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let state = Arc::new(AppState {
        options: opts,
        requests: AtomicUsize::new(0),
        last_request: Mutex::new(None),
        failures: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        stopped: stopped.clone(),
    });
    let app = router(state.clone());
    let mut signal = stopped;
    let task = tokio::spawn(async move {
        // Streams tokens as small writes, as real providers do: no Nagle delay.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // Also ends when the sender is gone: the server was dropped.
                let _ = signal.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(FakeServer {
        addr,
        state,
        stop,
        task: Some(task),
    })
}

#[derive(Debug)]
struct AppState {
    options: FakeOptions,
    requests: AtomicUsize,
    last_request: Mutex<Option<Value>>,
    /// Requests seen per user text, for `fail_first`.
    failures: Mutex<HashMap<String, usize>>,
    next_id: AtomicU64,
    stopped: watch::Receiver<bool>,
}

/// Identifiers of one answer.
pub(crate) struct Ids {
    pub message: String,
    pub call: String,
    pub created: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .route("/v1/embeddings", post(embed))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&state, Wire::OpenAi, &headers, &body)
}

async fn messages(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, Wire::Anthropic, &headers, &body)
}

async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let wire = if headers.contains_key("x-api-key") {
        Wire::Anthropic
    } else {
        Wire::OpenAi
    };
    if let Err(message) = authorize(&state, &headers) {
        return error(wire, 401, message);
    }
    // One list that both providers' clients can read.
    Json(json!({
        "object": "list",
        "data": [{
            "id": "fake-model", "object": "model", "type": "model", "created": 0,
            "created_at": "1970-01-01T00:00:00Z", "owned_by": "penny-fake-llm",
            "display_name": "PENNY fake model",
        }],
        "has_more": false,
        "first_id": "fake-model",
        "last_id": "fake-model",
    }))
    .into_response()
}

async fn embed(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return error(Wire::OpenAi, 400, &format!("request body is not JSON: {e}")),
    };
    *lock(&state.last_request) = Some(body.clone());
    if let Err(message) = authorize(&state, &headers) {
        return error(Wire::OpenAi, 401, message);
    }
    let request = match embeddings::request(&body) {
        Ok(r) => r,
        Err(message) => return error(Wire::OpenAi, 400, &message),
    };
    if let Some(status) = embeddings::scripted_failure(&request.inputs) {
        return error(Wire::OpenAi, status, "scripted failure from penny-fake-llm");
    }
    Json(embeddings::response(&request)).into_response()
}

async fn not_found() -> Response {
    error(Wire::OpenAi, 404, "no such route on penny-fake-llm")
}

fn answer(state: &AppState, wire: Wire, headers: &HeaderMap, body: &[u8]) -> Response {
    let body: Value = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => return error(wire, 400, &format!("request body is not JSON: {e}")),
    };
    *lock(&state.last_request) = Some(body.clone());
    if let Err(message) = authorize(state, headers) {
        return error(wire, 401, message);
    }
    if wire == Wire::Anthropic && !headers.contains_key("anthropic-version") {
        return error(wire, 400, "anthropic-version: header is required");
    }
    let conversation = match wire {
        Wire::OpenAi => openai::conversation(&body),
        Wire::Anthropic => anthropic::conversation(&body),
    };
    let conversation = match conversation {
        Ok(conversation) => conversation,
        Err(message) => return error(wire, 400, &message),
    };
    match script::decide(&conversation, &state.options, &state.failures) {
        Err(message) => error(wire, 400, &message),
        Ok(Outcome::Fail(status)) => error(wire, status, "scripted failure from penny-fake-llm"),
        Ok(Outcome::Answer(plan)) => reply(state, wire, &conversation, plan),
    }
}

fn reply(state: &AppState, wire: Wire, conversation: &Conversation, plan: Plan) -> Response {
    let n = state.next_id.fetch_add(1, Ordering::Relaxed);
    let ids = Ids {
        message: match wire {
            Wire::OpenAi => format!("chatcmpl-fake-{n}"),
            Wire::Anthropic => format!("msg_fake_{n}"),
        },
        call: match wire {
            Wire::OpenAi => format!("call_fake_{n}"),
            Wire::Anthropic => format!("toolu_fake_{n}"),
        },
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    if !conversation.stream {
        let body = match wire {
            Wire::OpenAi => openai::completion(&plan, conversation, &ids),
            Wire::Anthropic => anthropic::message(&plan, conversation, &ids),
        };
        return Json(body).into_response();
    }
    let frames = match wire {
        Wire::OpenAi => openai::frames(&plan, conversation, &ids),
        Wire::Anthropic => anthropic::frames(&plan, conversation, &ids),
    };
    let body = stream::body(frames, plan.delay, plan.ending, state.stopped.clone());
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Whether the request carries the required key; if not, why.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(expected) = &state.options.require_api_key else {
        return Ok(());
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let given = header("x-api-key")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")));
    match given {
        Some(key) if key == expected => Ok(()),
        Some(_) => Err("invalid x-api-key / API key"),
        None => Err("no API key provided"),
    }
}

fn error(wire: Wire, status: u16, message: &str) -> Response {
    let body = match wire {
        Wire::OpenAi => openai::error_body(status, message),
        Wire::Anthropic => anthropic::error_body(status, message),
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, Json(body)).into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    }
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
