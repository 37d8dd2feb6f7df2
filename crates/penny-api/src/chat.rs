//! Sending messages, following a conversation's events over SSE, and cancelling runs.
//! SSE events are `id: <seq>`, `event: <type>`, `data: <the event as JSON>`; a client
//! resumes with `Last-Event-ID` or `?after=`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use penny_chat::{Caller, ChatError, ChatEvent, Parent, SendRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Payload, Principal};
use crate::streams::StreamSlot;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/{id}/messages", post(send))
        .route("/conversations/{id}/events", get(events))
        .route("/runs/{id}/cancel", post(cancel))
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::NotFound => ApiError::NotFound,
            ChatError::Busy => ApiError::Conflict(e.to_string()),
            ChatError::TooManyRuns { .. } => ApiError::Limited {
                code: "too_many_runs",
                detail: e.to_string(),
            },
            ChatError::UnknownModel(_) | ChatError::NoModel => {
                ApiError::validation("model", e.to_string())
            }
            ChatError::Invalid { field, message } => ApiError::validation(field, message),
            ChatError::CollectionNotFound(_) => ApiError::Missing {
                code: "collection_not_found",
                detail: e.to_string(),
            },
            ChatError::ModelForbidden(_) => ApiError::Denied {
                code: "model_forbidden",
                detail: e.to_string(),
            },
            ChatError::Bus(m) | ChatError::Queue(m) => {
                tracing::error!(error = %m, "event bus or job queue unavailable");
                ApiError::Unavailable
            }
            ChatError::Store(s) => s.into(),
        }
    }
}

pub(crate) fn caller(who: &Principal) -> Caller {
    Caller {
        tenant: who.tenant,
        user: who.user,
        role: who.role,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendMessage {
    /// The message (1-100000 characters); empty when regenerating.
    #[serde(default)]
    #[schema(max_length = 100000)]
    content: String,
    /// Answer below this message (editing or branching); `null`: a new first message;
    /// omitted: below the current leaf.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<Uuid>)]
    parent_id: Option<Option<Uuid>>,
    /// A model name; default: the conversation's, else the tenant's default.
    model: Option<String>,
    /// Ids of the caller's uploads (`POST /files`) to attach: the model is told of them
    /// and may hand them to `python_execute`. At most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    attachments: Vec<Uuid>,
    /// Ids of knowledge collections (`GET /collections`) to answer from, each one the
    /// caller can read (else 404 `collection_not_found`). The model is told their names,
    /// `search_documents` is offered (when the caller's role may use it) even if
    /// `toolsAllowed` leaves it out, and searches them when the model names none. They are
    /// kept with the message (`collections: [{id, name}]`) and searched again when its
    /// answer is regenerated. At most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    collections: Vec<Uuid>,
    /// Tools the model may call for this message.
    #[serde(default)]
    tools_allowed: Vec<String>,
    /// Kinds of artifact the answer should produce (e.g. `chart`, `table`): the model is
    /// asked for them. At most 10, each 1-40 characters.
    #[serde(default)]
    #[schema(max_items = 10)]
    artifacts_expected: Vec<String>,
    /// Answer the question `parentId` names again: a new answer, a sibling of the ones it
    /// has (no new message; `content`, `attachments` and `collections` stay empty).
    #[serde(default)]
    regenerate: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    message_id: Uuid,
    assistant_message_id: Uuid,
    run_id: Uuid,
}

/// Sends a message and starts the answer. 202 with the ids; with
/// `Accept: text/event-stream` the same call streams the run as SSE. The run goes on
/// when the client disconnects.
#[utoipa::path(post, path = "/api/v1/chat/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SendMessage,
    responses((status = 202, body = Accepted), (status = 403, description = "model_forbidden"), (status = 404, description = "not_found, collection_not_found"), (status = 409), (status = 422), (status = 429, description = "too_many_streams (SSE)")))]
async fn send(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Payload<SendMessage>,
) -> ApiResult<Response> {
    let b = body.value;
    let req = SendRequest {
        content: b.content,
        parent: Parent::from_field(b.parent_id),
        model: b.model,
        tools_allowed: b.tools_allowed,
        attachments: b.attachments,
        collections: b.collections,
        artifacts_expected: b.artifacts_expected,
        regenerate: b.regenerate,
    };
    if wants_sse(&headers) {
        let slot = state.streams.acquire(who.user)?;
        let (started, stream) = state.engine.send_and_follow(caller(&who), id, req).await?;
        return Ok(sse(until_run_ends(stream, started.run_id), slot).into_response());
    }
    let started = state.engine.send(caller(&who), id, req).await?;
    let accepted = Accepted {
        message_id: started.message_id,
        assistant_message_id: started.assistant_message_id,
        run_id: started.run_id,
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

fn wants_sse(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

/// The stream of one run ends with its final event (without waiting for another).
fn until_run_ends(
    events: impl Stream<Item = ChatEvent> + Send + 'static,
    run: Uuid,
) -> impl Stream<Item = ChatEvent> + Send {
    futures::stream::unfold(
        (Box::pin(events), false),
        move |(mut events, done)| async move {
            if done {
                return None;
            }
            let e = events.next().await?;
            let is_end = e.ends_run(run);
            Some((e, (events, is_end)))
        },
    )
}

/// The events as an SSE response, holding one of the user's stream slots while open.
fn sse(
    events: impl Stream<Item = ChatEvent> + Send + 'static,
    slot: StreamSlot,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = events.map(move |e| {
        let _held = &slot;
        Ok(Event::default()
            .data(e.text())
            .id(e.seq.to_string())
            .event(e.kind.as_str()))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this seq (or send `Last-Event-ID`).
    after: Option<i64>,
}

/// The conversation's events after `after`, then live ones.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/events", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path), EventsQuery), responses((status = 200, content_type = "text/event-stream"), (status = 404), (status = 429, description = "too_many_streams")))]
async fn events(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Response> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = q.after.or(last_event_id).unwrap_or(0);
    let slot = state.streams.acquire(who.user)?;
    let stream = state.engine.events(caller(&who), id, after).await?;
    Ok(sse(stream, slot).into_response())
}

/// Stops a run; its answer is kept as far as it got, with status `cancelled`.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202), (status = 404)))]
async fn cancel(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.engine.cancel(caller(&who), id).await?;
    Ok(StatusCode::ACCEPTED)
}
