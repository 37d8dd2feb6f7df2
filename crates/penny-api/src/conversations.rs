//! Conversations of the caller: create, list (recent first, searchable by title), read,
//! change, delete, their messages (one branch, a page at a time, or all), and export.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use penny_store::conversations::{self, BranchMessage, Changes, Conversation, Message, Start};
use penny_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Payload, Principal};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list).post(create))
        .route(
            "/conversations/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/conversations/{id}/messages", get(messages))
        .route("/conversations/{id}/export", get(export))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    title: Option<String>,
    /// A model name; the tenant's default when omitted.
    model: Option<String>,
    system_prompt: Option<String>,
}

/// Create a conversation.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    request_body = CreateConversation, responses((status = 201, body = Object)))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    body: Payload<CreateConversation>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let b = body.value;
    if b.title.as_ref().is_some_and(|t| t.chars().count() > 300) {
        return Err(ApiError::validation(
            "title",
            "must be at most 300 characters",
        ));
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = conversations::create(
        &mut tx,
        who.tenant,
        who.user,
        b.title.as_deref(),
        b.model.as_deref(),
        b.system_prompt.as_deref(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Search in titles.
    q: Option<String>,
    #[serde(default)]
    archived: bool,
    /// 1-100, default 50.
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The caller's conversations, most recent first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = [Object])))]
async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Conversation>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit", "must be 1-100"));
    }
    let query = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut tx = state.store.tenant(who.tenant).await?;
    let all = conversations::list(
        &mut tx,
        who.user,
        query,
        q.archived,
        limit,
        q.offset.unwrap_or(0).max(0),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(all))
}

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Conversation>> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = conversations::get(&mut tx, who.user, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(c))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    title: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    model: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    system_prompt: Option<Option<String>>,
    archived: Option<bool>,
}

/// `null` clears a field; an absent field stays as it is.
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Rename, archive, or change the model or system prompt.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateConversation, responses((status = 200, body = Object), (status = 404)))]
async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    body: Payload<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    let b = body.value;
    if b.title.as_ref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ApiError::validation("title", "must not be empty"));
    }
    let mut tx = state.store.tenant(who.tenant).await?;
    let changes = Changes {
        title: b.title,
        model: b.model,
        system_prompt: b.system_prompt,
        archived: b.archived,
    };
    let c = conversations::update(&mut tx, who.user, id, changes).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(c))
}

/// Delete a conversation and everything in it.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.tenant(who.tenant).await?;
    conversations::delete(&mut tx, who.user, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BranchQuery {
    /// A message id: the branch ending at (the newest leaf below) it. Default: the current leaf.
    leaf: Option<Uuid>,
    /// 1-500: at most this many messages, the newest of the branch (or of the part above
    /// `before`). Default: all of them.
    limit: Option<i64>,
    /// A message id on the branch: only messages above it (the next older page). A message
    /// not on the branch is 422 `validation_failed` naming `before`.
    before: Option<Uuid>,
}

/// Most messages one page may hold.
const MAX_PAGE: i64 = 500;

/// Whether messages older than those of a page exist (`true`/`false`), on every answer.
pub(crate) const HAS_MORE: HeaderName = HeaderName::from_static("x-has-more");

async fn current_branch(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    leaf: Option<Uuid>,
) -> ApiResult<(Conversation, Vec<Message>)> {
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = conversations::get(&mut tx, who.user, id).await?;
    let branch = match leaf.or(c.current_leaf) {
        None => Vec::new(),
        Some(from) => {
            let end = conversations::latest_leaf(&mut tx, id, from).await?;
            conversations::branch(&mut tx, id, end).await?
        }
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok((c, branch))
}

/// One branch of messages, root first; each message says how many siblings it has and
/// their ids (`siblings`, `sibling_index`, `sibling_ids`), and an answer still streaming
/// the run writing it (`run_id`, `run_started_seq`: resume after `run_started_seq - 1` to
/// see it whole; both null otherwise).
///
/// Paging: `limit=N` gives the newest N messages of the branch, `before=<id>` (a message
/// of the branch) the ones above it. The header `X-Has-More: true` says older messages
/// exist (the first message listed has a parent). `leaf` without `before` makes the
/// branch current; a page with `before` changes nothing.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), BranchQuery),
    responses(
        (status = 200, body = [Object], headers(("X-Has-More" = bool, description = "Older messages exist above the first one listed"))),
        (status = 404),
        (status = 422, description = "`limit` outside 1-500, or `before` not on the branch")))]
async fn messages(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<BranchQuery>,
) -> ApiResult<([(HeaderName, HeaderValue); 1], Json<Vec<BranchMessage>>)> {
    if q.limit.is_some_and(|n| !(1..=MAX_PAGE).contains(&n)) {
        return Err(ApiError::validation("limit", "must be 1-500"));
    }
    let not_on_branch = || ApiError::validation("before", "is not a message of this branch");
    let mut tx = state.store.tenant(who.tenant).await?;
    let c = conversations::get(&mut tx, who.user, id).await?;
    let page = match (q.leaf.or(c.current_leaf), q.before) {
        (None, None) => Vec::new(),
        (None, Some(_)) => return Err(not_on_branch()),
        (Some(from), before) => {
            let end = conversations::latest_leaf(&mut tx, id, from).await?;
            let start = match before {
                None => Start::At(end),
                Some(b) if conversations::on_branch(&mut tx, id, end, b).await? => Start::Above(b),
                Some(_) => return Err(not_on_branch()),
            };
            // Switching branches makes the chosen one current.
            if q.leaf.is_some() && before.is_none() {
                conversations::set_leaf(&mut tx, id, end).await?;
            }
            conversations::branch_page(&mut tx, id, start, q.limit).await?
        }
    };
    tx.commit().await.map_err(StoreError::from)?;
    let more = page.first().is_some_and(|m| m.message.parent_id.is_some());
    Ok((
        [(
            HAS_MORE,
            HeaderValue::from_static(if more { "true" } else { "false" }),
        )],
        Json(page),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `md` (the current branch) or `json` (every branch).
    #[param(pattern = "^(md|json)$")]
    format: String,
}

#[derive(Serialize)]
struct JsonExport {
    conversation: Conversation,
    current_branch: Vec<Uuid>,
    messages: Vec<Message>,
}

/// Export as Markdown (current branch) or JSON (all branches).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/export", tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ExportQuery), responses((status = 200), (status = 404), (status = 422)))]
async fn export(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (c, branch) = current_branch(&state, &who, id, None).await?;
    let filename = format!("conversation-{}", c.id);
    match q.format.as_str() {
        "md" => {
            let mut md = format!("# {}\n\n", c.title);
            for m in &branch {
                let who = if m.role == "user" { "You" } else { "Assistant" };
                md.push_str(&format!(
                    "**{who}**{}\n\n{}\n\n",
                    model_note(m),
                    m.content.trim()
                ));
            }
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "text/markdown; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}.md\""),
                    ),
                ],
                md,
            )
                .into_response())
        }
        "json" => {
            let mut tx = state.store.tenant(who.tenant).await?;
            let all = conversations::all_messages(&mut tx, id).await?;
            tx.commit().await.map_err(StoreError::from)?;
            let body = JsonExport {
                current_branch: branch.iter().map(|m| m.id).collect(),
                conversation: c,
                messages: all,
            };
            Ok((
                [(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}.json\""),
                )],
                Json(json!(body)),
            )
                .into_response())
        }
        _ => Err(ApiError::validation("format", "expected md or json")),
    }
}

fn model_note(m: &Message) -> String {
    match (&m.model, m.role.as_str()) {
        (Some(model), "assistant") => format!(" ({model})"),
        _ => String::new(),
    }
}
