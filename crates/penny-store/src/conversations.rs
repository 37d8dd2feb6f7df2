//! Conversations (owned by one user) and their message tree. A branch is the path from
//! the root to a leaf; the conversation remembers its current leaf.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{StoreError, TenantId, UserId};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Conversation {
    pub id: Uuid,
    pub user_id: UserId,
    pub title: String,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub archived: bool,
    pub current_leaf: Option<Uuid>,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `last_seq` is the conversation's event counter (`conversation_seqs`; 0 until its first
/// event, and in what an insert returns, since the counter row is made after it).
const COLUMNS: &str = "id, user_id, title, model, system_prompt, archived, current_leaf, \
    coalesce((SELECT s.last_seq FROM conversation_seqs s \
              WHERE s.conversation_id = conversations.id), 0) AS last_seq, created_at, updated_at";

pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    title: Option<&str>,
    model: Option<&str>,
    system_prompt: Option<&str>,
) -> Result<Conversation, StoreError> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO conversations (tenant_id, user_id, title, model, system_prompt) \
         VALUES ($1, $2, coalesce($3, 'New conversation'), $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(user)
    .bind(title)
    .bind(model)
    .bind(system_prompt)
    .fetch_one(conn)
    .await?)
}

/// The caller's own conversation; another user's is "not found".
pub async fn get(
    conn: &mut PgConnection,
    user: UserId,
    id: Uuid,
) -> Result<Conversation, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Most recently updated first; `query` matches titles by trigram similarity or substring.
pub async fn list(
    conn: &mut PgConnection,
    user: UserId,
    query: Option<&str>,
    archived: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<Conversation>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE user_id = $1 AND archived = $2 \
         AND ($3::text IS NULL OR title ILIKE '%' || $3 || '%' OR title % $3) \
         ORDER BY updated_at DESC, id LIMIT $4 OFFSET $5"
    ))
    .bind(user)
    .bind(archived)
    .bind(query)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub model: Option<Option<String>>,
    pub system_prompt: Option<Option<String>>,
    pub archived: Option<bool>,
}

pub async fn update(
    conn: &mut PgConnection,
    user: UserId,
    id: Uuid,
    c: Changes,
) -> Result<Conversation, StoreError> {
    let current = get(&mut *conn, user, id).await?;
    sqlx::query_as(&format!(
        "UPDATE conversations SET title = $2, model = $3, system_prompt = $4, archived = $5, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(c.title.unwrap_or(current.title))
    .bind(c.model.unwrap_or(current.model))
    .bind(c.system_prompt.unwrap_or(current.system_prompt))
    .bind(c.archived.unwrap_or(current.archived))
    .fetch_one(conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_check_violation() => StoreError::Invalid {
            field: "title",
            message: "must be at most 300 characters".into(),
        },
        _ => StoreError::Database(e),
    })
}

pub async fn delete(conn: &mut PgConnection, user: UserId, id: Uuid) -> Result<(), StoreError> {
    let n = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected();
    StoreError::found(n)
}

pub async fn set_leaf(conn: &mut PgConnection, id: Uuid, leaf: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE conversations SET current_leaf = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(leaf)
        .execute(conn)
        .await?;
    Ok(())
}

/// Also read from JSON (`penny_send_read` returns a send's branch as an array of rows;
/// the sibling counts are not computed there).
#[derive(Debug, Clone, Serialize, Deserialize, FromRow)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub role: String,
    pub content: String,
    pub status: String,
    pub model: Option<String>,
    pub tool_calls: Option<serde_json::Value>,
    pub tool_call_id: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub ttft_ms: Option<i32>,
    pub duration_ms: Option<i32>,
    pub cost: Option<f64>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Files attached to a user message: `[{id, filename, mime, size}]`.
    pub attachments: serde_json::Value,
    /// Knowledge collections picked for a user message: `[{id, name}]` (migration 0028).
    #[serde(default = "no_collections")]
    pub collections: serde_json::Value,
    /// How many messages share this one's parent (itself included), and its place among them.
    #[serde(default)]
    pub siblings: i64,
    #[serde(default)]
    pub sibling_index: i64,
}

fn no_collections() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

impl Message {
    /// A user's message as [`crate::send::store`] writes it, before it is read back.
    /// `attachments` and `collections` are their snapshots (see the fields).
    pub fn user(
        id: Uuid,
        conversation: Uuid,
        parent: Option<Uuid>,
        content: &str,
        attachments: serde_json::Value,
        collections: serde_json::Value,
    ) -> Self {
        Message {
            id,
            conversation_id: conversation,
            parent_id: parent,
            role: "user".into(),
            content: content.into(),
            status: "complete".into(),
            model: None,
            tool_calls: None,
            tool_call_id: None,
            input_tokens: None,
            output_tokens: None,
            ttft_ms: None,
            duration_ms: None,
            cost: None,
            error_code: None,
            created_at: Utc::now(),
            attachments,
            collections,
            siblings: 1,
            sibling_index: 1,
        }
    }
}

/// A message's own columns (without its sibling counts).
pub(crate) const BRANCH_COLUMNS: &str = "m.id, m.conversation_id, m.parent_id, m.role, m.content, m.status, m.model, \
     m.tool_calls, m.tool_call_id, m.input_tokens, m.output_tokens, m.ttft_ms, m.duration_ms, m.cost, \
     m.error_code, m.created_at, m.attachments, m.collections";

const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.parent_id, m.role, m.content, m.status, m.model, \
     m.tool_calls, m.tool_call_id, m.input_tokens, m.output_tokens, m.ttft_ms, m.duration_ms, m.cost, \
     m.error_code, m.created_at, m.attachments, m.collections, \
     count(*) OVER (PARTITION BY m.parent_id) AS siblings, \
     row_number() OVER (PARTITION BY m.parent_id ORDER BY m.created_at, m.id) AS sibling_index";

pub struct NewMessage<'a> {
    pub conversation: Uuid,
    pub parent: Option<Uuid>,
    pub role: &'a str,
    pub content: &'a str,
    pub status: &'a str,
    pub model: Option<&'a str>,
}

pub async fn add_message(
    conn: &mut PgConnection,
    tenant: TenantId,
    m: NewMessage<'_>,
) -> Result<Uuid, StoreError> {
    if let Some(parent) = m.parent {
        let ok: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2)",
        )
        .bind(parent)
        .bind(m.conversation)
        .fetch_one(&mut *conn)
        .await?;
        if !ok {
            return Err(StoreError::Invalid {
                field: "parentId",
                message: "is not a message of this conversation".into(),
            });
        }
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO messages (tenant_id, conversation_id, parent_id, role, content, status, model) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(tenant)
    .bind(m.conversation)
    .bind(m.parent)
    .bind(m.role)
    .bind(m.content)
    .bind(m.status)
    .bind(m.model)
    .fetch_one(conn)
    .await?)
}

/// Every message of a conversation (all branches), oldest first.
pub async fn all_messages(
    conn: &mut PgConnection,
    conversation: Uuid,
) -> Result<Vec<Message>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 ORDER BY m.created_at, m.id"
    ))
    .bind(conversation)
    .fetch_all(conn)
    .await?)
}

/// A message of a branch as listed to a client: with its siblings' ids, and for an answer
/// still being written, the run writing it and the seq of that run's `run.started`.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BranchMessage {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub message: Message,
    /// Every message sharing this one's parent (itself included), in `sibling_index` order.
    pub sibling_ids: Vec<Uuid>,
    /// The running run writing this message; `None` unless it is streaming.
    pub run_id: Option<Uuid>,
    /// The seq of that run's `run.started` event: a client that resumes after it sees the
    /// whole answer. `None` unless the message is streaming.
    pub run_started_seq: Option<i64>,
}

/// Where a walk up a branch starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// At this message (included).
    At(Uuid),
    /// Just above this message (excluded): the page of older messages before it.
    Above(Uuid),
}

/// Walks up from `$2` (depth `$4`: 1 to include it, 0 to leave it out) through its
/// ancestors, at most to depth `$3` (no bound when null). Each step is one primary-key
/// lookup of the parent (a scalar subquery: as a join, the planner, which expects a few
/// steps, may scan the table at every step), so the walk reads only what it returns.
/// Callers read the walked messages the same way, one primary-key lookup each (a
/// `LATERAL` subquery with `OFFSET 0`, which the planner cannot turn into a join): as a
/// plain join, a planner that thinks the table small (a new database, a young tenant)
/// hashes the whole `messages` table at every send.
pub(crate) const WALK_UP: &str = "WITH RECURSIVE up AS ( \
        SELECT m.id, m.parent_id, $4::bigint AS depth FROM messages m \
        WHERE m.id = $2 AND m.conversation_id = $1 \
        UNION ALL \
        SELECT u.parent_id, (SELECT p.parent_id FROM messages p WHERE p.id = u.parent_id), u.depth + 1 \
        FROM up u WHERE u.parent_id IS NOT NULL AND ($3::bigint IS NULL OR u.depth < $3))";

/// The branch ending at `from` (root first), at most `limit` messages: the newest ones,
/// nearest to `from`. One statement: the sibling ids of each message come from the
/// `messages_parent` index (first messages from `messages_conversation`), and the running
/// run of a streaming answer from `runs_one_active`, its `run.started` from the newest
/// events back.
pub async fn branch_page(
    conn: &mut PgConnection,
    conversation: Uuid,
    from: Start,
    limit: Option<i64>,
) -> Result<Vec<BranchMessage>, StoreError> {
    let (start, first_depth) = match from {
        Start::At(id) => (id, 1_i64),
        Start::Above(id) => (id, 0_i64),
    };
    Ok(sqlx::query_as(&format!(
        "{WALK_UP} \
         SELECT {BRANCH_COLUMNS}, sib.ids AS sibling_ids, cardinality(sib.ids)::bigint AS siblings, \
                coalesce(array_position(sib.ids, m.id), 1)::bigint AS sibling_index, \
                run.run_id, run.run_started_seq \
         FROM up CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.id = up.id OFFSET 0) m \
         LEFT JOIN LATERAL ( \
           SELECT array_agg(s.id ORDER BY s.created_at, s.id) AS ids FROM messages s \
           WHERE m.parent_id IS NOT NULL AND s.parent_id = m.parent_id) kids ON true \
         LEFT JOIN LATERAL ( \
           SELECT array_agg(s.id ORDER BY s.created_at, s.id) AS ids FROM messages s \
           WHERE m.parent_id IS NULL AND s.conversation_id = $1 AND s.parent_id IS NULL) roots ON true \
         CROSS JOIN LATERAL (SELECT coalesce(kids.ids, roots.ids, ARRAY[m.id]) AS ids) sib \
         LEFT JOIN LATERAL ( \
           SELECT r.id AS run_id, \
             (SELECT e.seq FROM conversation_events e \
              WHERE e.conversation_id = $1 AND e.event->>'type' = 'run.started' \
                AND e.event->>'runId' = r.id::text \
              ORDER BY e.seq DESC LIMIT 1) AS run_started_seq \
           FROM runs r \
           WHERE m.status = 'streaming' AND r.conversation_id = $1 AND r.status = 'running' \
             AND r.assistant_message_id = m.id) run ON true \
         WHERE up.depth >= 1 \
         ORDER BY up.depth DESC"
    ))
    .bind(conversation)
    .bind(start)
    .bind(limit)
    .bind(first_depth)
    .fetch_all(conn)
    .await?)
}

/// The branch from the root to `leaf`, root first.
pub async fn branch(
    conn: &mut PgConnection,
    conversation: Uuid,
    leaf: Uuid,
) -> Result<Vec<Message>, StoreError> {
    let page = branch_page(conn, conversation, Start::At(leaf), None).await?;
    if page.is_empty() {
        return Err(StoreError::NotFound);
    }
    Ok(page.into_iter().map(|m| m.message).collect())
}

/// Whether `message` is on the branch ending at `leaf` (`leaf` itself included). Walks up
/// from `leaf` and stops at `message`.
pub async fn on_branch(
    conn: &mut PgConnection,
    conversation: Uuid,
    leaf: Uuid,
    message: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up AS ( \
            SELECT id, parent_id FROM messages WHERE id = $2 AND conversation_id = $1 \
            UNION ALL \
            SELECT u.parent_id, (SELECT p.parent_id FROM messages p WHERE p.id = u.parent_id) \
            FROM up u WHERE u.parent_id IS NOT NULL AND u.id <> $3) \
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $3)",
    )
    .bind(conversation)
    .bind(leaf)
    .bind(message)
    .fetch_one(conn)
    .await?)
}

/// The newest leaf below `from` (following the latest child at each step).
pub async fn latest_leaf(
    conn: &mut PgConnection,
    conversation: Uuid,
    from: Uuid,
) -> Result<Uuid, StoreError> {
    sqlx::query_scalar(
        "WITH RECURSIVE down AS ( \
            SELECT id, 0 AS depth FROM messages WHERE id = $2 AND conversation_id = $1 \
            UNION ALL \
            SELECT (SELECT c.id FROM messages c WHERE c.parent_id = d.id ORDER BY c.created_at DESC, c.id DESC LIMIT 1), \
                   d.depth + 1 FROM down d WHERE d.id IS NOT NULL) \
         SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1",
    )
    .bind(conversation)
    .bind(from)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// The text stored for `message` (for an answer still streaming: its last checkpoint).
pub async fn message_content(
    conn: &mut PgConnection,
    message: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT content FROM messages WHERE id = $1")
            .bind(message)
            .fetch_optional(conn)
            .await?,
    )
}

/// The final state of a generated message (see [`crate::runs::end`]).
#[derive(Debug, Default)]
pub struct Finish<'a> {
    pub content: &'a str,
    pub status: &'a str,
    pub model: Option<&'a str>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub ttft_ms: Option<i32>,
    pub duration_ms: Option<i32>,
    pub cost: Option<f64>,
    pub error_code: Option<&'a str>,
    pub tool_calls: Option<serde_json::Value>,
}
