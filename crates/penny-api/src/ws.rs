//! A conversation over a WebSocket: `/ws/chat/{conversationId}`.
//!
//! The upgrade itself needs no credential; the first client frame must be
//! `{"type":"auth","token":"<access token or pk_ API key>"}` within [`AUTH_TIMEOUT`], else
//! the socket is closed with 4401. A conversation that is not the caller's (another user,
//! another tenant, no such id) closes it with 4404, a suspended tenant with 4403. After auth
//! the server sends `{"type":"ready","conversationId","lastSeq"}`.
//!
//! Events are the same JSON objects as the SSE endpoint's (`{type, seq, …}`), one per text
//! frame, in seq order with no gap and no duplicate. They start right after `ready`: from
//! the `after` the auth frame may carry (`{"type":"auth","token","after":N}`), else from the
//! `lastSeq` given in `ready`, so a client that only listens needs to send nothing more and
//! misses nothing that happens after `ready`. `{"type":"resume","after":N}` restarts the
//! stream from after seq N. The socket's first `resume`, when the auth frame had no
//! `after`, replays from its `after` whatever the socket sent before it (a client that
//! learns where it stands from `ready` ignores events until it has sent its `resume`);
//! a later `resume` never delivers twice what the socket has already delivered.
//!
//! Client frames: `resume`; `send` with the body of `POST /api/v1/chat/{id}/messages`
//! (answered `{"type":"accepted","messageId","assistantMessageId","runId"}`, the run's events
//! follow on the stream); `{"type":"cancel","runId"}` (answered `{"type":"cancelled","runId"}`);
//! `{"type":"ping"}` (answered `{"type":"pong"}`). A frame that cannot be read gets
//! `{"type":"error","code":"invalid_frame","message"}`; a refused request gets the
//! problem code HTTP would give (`validation_failed`, `conflict`, `not_found`…). Either way
//! the socket stays open.
//!
//! Any client frame may carry `"id"` (a string of at most [`MAX_REQUEST_ID`] characters);
//! every direct reply to it (`accepted`, `cancelled`, `pong`, an `error` it caused) then
//! carries it back as `"requestId"`, so a client with several requests in flight knows
//! which one an error belongs to. Events never carry it. A frame without `id` is answered
//! as before, without `requestId`; a bad `id` is an `invalid_frame` error.
//!
//! Access is checked for the whole life of a socket, not only at `auth`: the token is
//! resolved again on every client frame and every [`ACCESS_TTL`] (answers cached at most
//! that long), and when access ends the socket is closed: 4401 when the token expired or
//! the login, user or API key ended (the client refreshes and reconnects), 4403 when the
//! tenant is suspended. A demoted user's frames act under the new role from then on.
//! Every client frame spends a request of the caller's rate limit, as an HTTP request
//! would; a frame over the limit is answered `{"type":"error","code":"rate_limited",
//! "message","retryAfter"}` and not acted on (the socket stays open). A user holds at most
//! `MAX_STREAMS_PER_USER` streams (sockets and SSE responses) per instance: one more is
//! closed with 4429 before `ready`. A socket follows one stream at a time (a `resume`
//! replaces it).
//!
//! The server pings every [`PING_EVERY`] and closes a socket it has heard nothing from for
//! [`IDLE_TIMEOUT`]. Buffers are bounded: a client that does not read what it is sent is
//! closed with 1008 "too slow" rather than buffered for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::stream::{BoxStream, SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use penny_chat::{Caller, ChatEvent, Parent, SendRequest};
use penny_store::conversations;
use penny_store::StoreError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::access::ACCESS_TTL;
use crate::error::ApiError;
use crate::extract::Principal;
use crate::streams::StreamSlot;
use crate::{auth, limits, AppState};

/// How long a new socket may take to send its auth frame.
pub(crate) const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Interval of the server's WebSocket pings.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(20);
/// A socket silent this long (not even a pong) is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Replies queued for one socket; a client that lets it fill up is dropped.
const OUTGOING_BUFFER: usize = 256;
/// How long one frame may take to go out before the client counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest frame and message a client may send.
const MAX_MESSAGE: usize = 256 * 1024;
/// The socket's read buffer, grown for a larger frame as it comes. Client frames are
/// small and rare; tungstenite's default (128 KiB) costs that much memory per socket, and
/// zeroes it on every read.
const READ_BUFFER: usize = 8 * 1024;
/// Longest `id` a client frame may carry (characters).
pub(crate) const MAX_REQUEST_ID: usize = 64;

const UNAUTHENTICATED: (u16, &str) = (4401, "unauthenticated");
const SUSPENDED: (u16, &str) = (4403, "tenant suspended");
const NOT_FOUND: (u16, &str) = (4404, "not found");
const TOO_MANY_STREAMS: (u16, &str) = (4429, "too many streams");
const INTERNAL: (u16, &str) = (1011, "internal error");
const GOING_AWAY: (u16, &str) = (1001, "going away");
const TOO_SLOW: (u16, &str) = (1008, "too slow");
const IDLE: (u16, &str) = (1001, "idle");

pub fn routes() -> Router<AppState> {
    Router::new().route("/ws/chat/{id}", get(upgrade))
}

/// The seed's WebSocket service path, used when the `ws` role runs alone on `WS_PORT`.
pub fn standalone_routes() -> Router<AppState> {
    routes().route("/chat/{id}", get(upgrade))
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    // A malformed id names no conversation: refusing it before auth tells nothing.
    let Ok(conversation) = id.parse::<Uuid>() else {
        return ApiError::NotFound.into_response();
    };
    let span = tracing::info_span!(
        "ws",
        %conversation,
        tenant_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| session(socket, state, conversation).instrument(span))
}

/// What the reader hands the writer.
enum Out {
    Frame(Value),
    /// Replace the event stream; `replay`: forget what the socket has delivered (the
    /// first `resume` after a stream the client did not place).
    Events {
        stream: BoxStream<'static, ChatEvent>,
        replay: bool,
    },
}

async fn session(mut socket: WebSocket, state: AppState, conversation: Uuid) {
    let (who, token, last_seq, after) = match authenticate(&mut socket, &state, conversation).await
    {
        Ok(found) => found,
        Err(close) => {
            tracing::debug!(code = close.0, reason = close.1, "websocket refused");
            return close_socket(socket, close).await;
        }
    };
    let slot = match state.streams.acquire(who.user) {
        Ok(slot) => slot,
        Err(_) => {
            tracing::debug!("websocket refused: the user holds too many streams");
            return close_socket(socket, TOO_MANY_STREAMS).await;
        }
    };
    let span = tracing::Span::current();
    span.record("tenant_id", tracing::field::display(who.tenant));
    span.record("user_id", tracing::field::display(who.user));
    let ready = json!({"type": "ready", "conversationId": conversation, "lastSeq": last_seq});
    if send_json(&mut socket, &ready).await.is_err() {
        return;
    }

    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(OUTGOING_BUFFER);
    let (kill, killed) = oneshot::channel();
    let heard = Arc::new(Heard::new());
    let writer = tokio::spawn(write(sink, rx, killed, heard.clone()).in_current_span());
    let mut reader = Reader {
        state,
        caller: crate::chat::caller(&who),
        who,
        token,
        _slot: slot,
        conversation,
        replayable: after.is_none(),
        request_id: None,
        tx,
        kill: Some(kill),
    };
    // Live events from `ready` on, whether or not the client ever sends a frame.
    if reader.start(after.unwrap_or(last_seq), false).await.is_ok() {
        reader.run(stream, &heard).await;
    }
    // The reader dropped its sender: the writer closes the socket and ends.
    let abort = writer.abort_handle();
    if tokio::time::timeout(CLOSE_TIMEOUT + SEND_TIMEOUT, writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    tracing::debug!("websocket closed");
}

/// Waits for the auth frame, resolves its token and checks the conversation is the
/// caller's. Returns the caller, the token (to check again later), the conversation's
/// last seq and the seq the client asked to start after, or the close to send.
async fn authenticate(
    socket: &mut WebSocket,
    state: &AppState,
    conversation: Uuid,
) -> Result<(Principal, String, i64, Option<i64>), (u16, &'static str)> {
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "lowercase")]
    enum First {
        Auth {
            token: String,
            #[serde(default)]
            after: Option<i64>,
        },
    }
    let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
    let text = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => return Err(UNAUTHENTICATED),
            Ok(Some(Ok(Message::Text(t)))) => break t,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(_))) => return Err(UNAUTHENTICATED),
        }
    };
    let Ok(First::Auth { token, after }) = serde_json::from_str::<First>(text.as_str()) else {
        return Err(UNAUTHENTICATED);
    };
    let token = token.trim().to_string();
    let who = auth::resolve(state, &token).await.map_err(|e| {
        access_ended(&e).unwrap_or_else(|| {
            tracing::error!(error = %e, "websocket authentication failed");
            INTERNAL
        })
    })?;
    let found = async {
        let mut tx = state.store.tenant(who.tenant).await?;
        let conv = conversations::get(&mut tx, who.user, conversation).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok::<_, StoreError>(conv.last_seq)
    }
    .await;
    match found {
        Ok(stored) => {
            let last_seq = state.engine.newest_seq(conversation, stored).await;
            Ok((who, token, last_seq, after.map(|a| a.max(0))))
        }
        Err(StoreError::NotFound) => Err(NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "websocket: reading the conversation failed");
            Err(INTERNAL)
        }
    }
}

/// The close a refused credential earns, if the error says access ended.
fn access_ended(e: &ApiError) -> Option<(u16, &'static str)> {
    match e {
        ApiError::Unauthenticated(_) => Some(UNAUTHENTICATED),
        ApiError::TenantSuspended => Some(SUSPENDED),
        _ => None,
    }
}

/// Sends a close frame and waits (briefly) for the client's, so the frame is not lost to
/// a reset connection.
async fn close_socket(mut socket: WebSocket, (code, reason): (u16, &'static str)) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if socket.send(close_message(code, reason)).await.is_ok() {
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn send_json(socket: &mut WebSocket, v: &Value) -> Result<(), ()> {
    match tokio::time::timeout(
        SEND_TIMEOUT,
        socket.send(Message::Text(v.to_string().into())),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// When the client was last heard from (any frame, pongs included).
struct Heard {
    origin: Instant,
    millis: AtomicU64,
}

impl Heard {
    fn new() -> Self {
        Heard {
            origin: Instant::now(),
            millis: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.millis.store(ms, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.millis.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

/// The only task that writes to the socket: replies from the reader, the conversation's
/// events, and pings. Ends (closing the socket) when the reader is gone, the client is too
/// slow or silent, or the event stream ends (the server is shutting down).
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Out>,
    mut killed: oneshot::Receiver<(u16, &'static str)>,
    heard: Arc<Heard>,
) {
    let mut events: Option<BoxStream<'static, ChatEvent>> = None;
    // The highest seq this socket has delivered: a `resume` that overlaps it is not
    // sent twice.
    let mut sent_seq = i64::MIN;
    let mut reader_gone = false;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let close = loop {
        let next = tokio::select! {
            biased;
            close = &mut killed, if !reader_gone => match close {
                Ok(close) => break Some(close),
                // The reader ended without a verdict; `rx` reports the end.
                Err(_) => {
                    reader_gone = true;
                    continue;
                }
            },
            out = rx.recv() => match out {
                None => break Some((1000, "")),
                Some(Out::Events { stream, replay }) => {
                    events = Some(stream);
                    if replay {
                        sent_seq = i64::MIN;
                    }
                    continue;
                }
                Some(Out::Frame(v)) => Message::Text(v.to_string().into()),
            },
            e = next_event(&mut events) => match e {
                Some(e) => {
                    if e.seq <= sent_seq {
                        continue;
                    }
                    sent_seq = e.seq;
                    // The bytes every subscriber shares: no copy, no re-serialising.
                    match Utf8Bytes::try_from(e.json()) {
                        Ok(text) => Message::Text(text),
                        Err(_) => continue,
                    }
                }
                None => break Some(GOING_AWAY),
            },
            _ = ping.tick() => {
                if heard.silent_for() > IDLE_TIMEOUT {
                    break Some(IDLE);
                }
                Message::Ping(Bytes::new())
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(next)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break None, // gone
            Err(_) => break Some(TOO_SLOW),
        }
    };
    if let Some((code, reason)) = close {
        tracing::debug!(code, reason, "closing websocket");
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(close_message(code, reason))).await;
    }
}

/// The next event, or never when no stream has started yet.
async fn next_event(events: &mut Option<BoxStream<'static, ChatEvent>>) -> Option<ChatEvent> {
    match events {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeFrame {
    after: i64,
}

/// The body of `POST /api/v1/chat/{id}/messages`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendFrame {
    #[serde(default)]
    content: String,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    parent_id: Option<Option<Uuid>>,
    model: Option<String>,
    #[serde(default)]
    attachments: Vec<Uuid>,
    #[serde(default)]
    collections: Vec<Uuid>,
    #[serde(default)]
    tools_allowed: Vec<String>,
    #[serde(default)]
    artifacts_expected: Vec<String>,
    #[serde(default)]
    regenerate: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CancelFrame {
    run_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Reads the client's frames and answers them through the writer.
struct Reader {
    state: AppState,
    caller: Caller,
    /// Who the token said, when it was last resolved.
    who: Principal,
    /// The credential from the auth frame, resolved again as the socket lives.
    token: String,
    /// Held while the socket is open: one of the user's streams.
    _slot: StreamSlot,
    conversation: Uuid,
    /// The stream follows from `ready` without the client having said where it stands: its
    /// first `resume` replays from its `after`.
    replayable: bool,
    /// The `id` of the frame being answered: its replies echo it as `requestId`.
    request_id: Option<String>,
    tx: mpsc::Sender<Out>,
    kill: Option<oneshot::Sender<(u16, &'static str)>>,
}

/// Why the reader stops.
struct Stop;

impl Reader {
    async fn run(mut self, mut stream: SplitStream<WebSocket>, heard: &Heard) {
        let mut recheck =
            tokio::time::interval_at(tokio::time::Instant::now() + ACCESS_TTL, ACCESS_TTL);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let msg = tokio::select! {
                m = stream.next() => m,
                // The writer ended (client gone, too slow, shutdown).
                _ = self.tx.closed() => return,
                // A socket that only listens loses its stream when access ends, too.
                _ = recheck.tick() => match self.authorise().await {
                    Ok(()) => continue,
                    Err(Stop) => return,
                },
            };
            let Some(Ok(msg)) = msg else { return };
            heard.touch();
            let handled = match msg {
                Message::Text(text) => match self.admit().await {
                    Ok(true) => self.frame(text.as_str()).await,
                    Ok(false) => Ok(()),
                    Err(Stop) => Err(Stop),
                },
                Message::Binary(_) => self.invalid("frames must be JSON text"),
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => Ok(()),
            };
            if handled.is_err() {
                return;
            }
        }
    }

    /// Resolves the token again: the caller as they are now, or the socket closed because
    /// their access ended. A failing dependency keeps the caller as they were (their
    /// requests meet the same failure).
    async fn authorise(&mut self) -> Result<(), Stop> {
        match auth::resolve(&self.state, &self.token).await {
            Ok(who) => {
                self.caller = crate::chat::caller(&who);
                self.who = who;
                Ok(())
            }
            Err(e) => match access_ended(&e) {
                Some(close) => {
                    tracing::debug!(code = close.0, "websocket access ended");
                    if let Some(kill) = self.kill.take() {
                        let _ = kill.send(close);
                    }
                    Err(Stop)
                }
                None => {
                    tracing::warn!(error = %e, "websocket: checking access failed");
                    Ok(())
                }
            },
        }
    }

    /// Whether a client frame may be acted on: the caller still has access (else the
    /// socket closes) and the frame fits their rate limit (else it is answered
    /// `rate_limited`).
    async fn admit(&mut self) -> Result<bool, Stop> {
        self.request_id = None;
        self.authorise().await?;
        match limits::spend(&self.state, &self.who).await {
            Ok(d) if d.allowed => Ok(true),
            Ok(d) => {
                self.reply(json!({"type": "error", "code": "rate_limited",
                    "message": format!("too many requests; retry in {} s", d.reset_secs),
                    "retryAfter": d.reset_secs}))?;
                Ok(false)
            }
            Err(e) => {
                self.refused(e).await?;
                Ok(false)
            }
        }
    }

    async fn frame(&mut self, text: &str) -> Result<(), Stop> {
        self.request_id = None;
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return self.invalid(&format!("not valid JSON: {e}")),
        };
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut body = value;
        let mut id = None;
        if let Some(map) = body.as_object_mut() {
            map.remove("type");
            id = map.remove("id");
        }
        match id {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if id.chars().count() <= MAX_REQUEST_ID => {
                self.request_id = Some(id);
            }
            Some(_) => {
                return self.invalid(&format!(
                    "id: must be a string of at most {MAX_REQUEST_ID} characters"
                ))
            }
        }
        if kind == "resume" {
            return match parse::<ResumeFrame>(body) {
                Ok(r) => {
                    let replay = std::mem::take(&mut self.replayable);
                    self.start(r.after, replay).await
                }
                Err(m) => self.invalid(&m),
            };
        }
        match kind.as_str() {
            "send" => match parse::<SendFrame>(body) {
                Ok(f) => self.send(f).await,
                Err(m) => self.invalid(&m),
            },
            "cancel" => match parse::<CancelFrame>(body) {
                Ok(f) => self.cancel(f.run_id).await,
                Err(m) => self.invalid(&m),
            },
            "ping" => match parse::<Empty>(body) {
                Ok(_) => self.reply(json!({"type": "pong"})),
                Err(m) => self.invalid(&m),
            },
            "auth" => self.invalid("already authenticated"),
            "" => self.invalid("a frame is a JSON object with a string `type`"),
            other => self.invalid(&format!("unknown frame type `{other}`")),
        }
    }

    /// Starts (or restarts) the event stream from after seq `after`.
    async fn start(&mut self, after: i64, replay: bool) -> Result<(), Stop> {
        match self
            .state
            .engine
            .events(self.caller, self.conversation, after)
            .await
        {
            Ok(stream) => self.push(Out::Events {
                stream: stream.boxed(),
                replay,
            }),
            Err(e) => self.refused(e.into()).await,
        }
    }

    async fn send(&mut self, f: SendFrame) -> Result<(), Stop> {
        let req = SendRequest {
            content: f.content,
            parent: Parent::from_field(f.parent_id),
            model: f.model,
            tools_allowed: f.tools_allowed,
            attachments: f.attachments,
            collections: f.collections,
            artifacts_expected: f.artifacts_expected,
            regenerate: f.regenerate,
        };
        match self
            .state
            .engine
            .send(self.caller, self.conversation, req)
            .await
        {
            Ok(s) => self.reply(json!({"type": "accepted", "messageId": s.message_id,
                "assistantMessageId": s.assistant_message_id, "runId": s.run_id})),
            Err(e) => self.refused(e.into()).await,
        }
    }

    async fn cancel(&mut self, run: Uuid) -> Result<(), Stop> {
        match self.state.engine.cancel(self.caller, run).await {
            Ok(()) => self.reply(json!({"type": "cancelled", "runId": run})),
            Err(e) => self.refused(e.into()).await,
        }
    }

    fn invalid(&mut self, message: &str) -> Result<(), Stop> {
        self.reply(json!({"type": "error", "code": "invalid_frame", "message": message}))
    }

    /// An error frame with the code and message HTTP would give (rendered by the same
    /// code, so they cannot drift apart; internal details stay in the log).
    async fn refused(&mut self, e: ApiError) -> Result<(), Stop> {
        let res = e.into_response();
        let problem: Value = axum::body::to_bytes(res.into_body(), 64 * 1024)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut frame = json!({
            "type": "error",
            "code": problem["code"].as_str().unwrap_or("internal"),
            "message": problem["detail"].as_str().unwrap_or("internal error"),
        });
        if let Some(field) = problem["errors"][0]["field"].as_str() {
            frame["field"] = field.into();
        }
        self.reply(frame)
    }

    /// A direct reply to the frame being read, echoing its `id` as `requestId`.
    fn reply(&mut self, mut v: Value) -> Result<(), Stop> {
        if let (Some(id), Some(map)) = (&self.request_id, v.as_object_mut()) {
            map.insert("requestId".into(), Value::String(id.clone()));
        }
        self.push(Out::Frame(v))
    }

    /// Queues for the writer; a full queue means the client does not read: drop it.
    fn push(&mut self, out: Out) -> Result<(), Stop> {
        match self.tx.try_send(out) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                if let Some(kill) = self.kill.take() {
                    let _ = kill.send(TOO_SLOW);
                }
                Err(Stop)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stop),
        }
    }
}

/// Reads a frame's fields (its `type` removed); the message names the field at fault.
fn parse<T: DeserializeOwned>(body: Value) -> Result<T, String> {
    if !body.is_object() {
        return Err("a frame is a JSON object with a string `type`".into());
    }
    if let Some(field) = crate::extract::nul_in(&body) {
        return Err(format!("{field}: {}", crate::extract::NUL_MESSAGE));
    }
    serde_path_to_error::deserialize::<_, T>(body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}
