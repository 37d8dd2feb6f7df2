//! Sending a message, the hottest write of the chat: two calls instead of a dozen
//! statements. [`target`] reads, in one query, what decides whether the send may go ahead
//! (the caller's conversation, the model it names or falls back to, that model's grant
//! and the tenant's token cap) and the branch the message continues. [`store`] then writes
//! the user message, the empty streaming answer, the conversation's new leaf and title,
//! the run and its `run.started` event in one statement, so there is never a message
//! without its run or a run without its event.
//!
//! Each is one call of a function of migrations 0016 and 0017 (0028 adds the message's
//! collections) that scopes itself to the tenant and, run outside a transaction as here,
//! commits on its own: one round trip each, where a transaction of their own would add its
//! BEGIN and COMMIT to the path of the first token. That is why they take the [`Store`], not a connection that could be inside
//! a transaction of another scope.

use std::time::Duration;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

use crate::conversations::Message;
use crate::models::Model;
use crate::{Store, StoreError, TenantId, UserId};

/// What a send goes to.
#[derive(Debug, Clone)]
pub struct Target {
    pub system_prompt: Option<String>,
    /// The model asked for, else the conversation's, else the tenant's default; `None`
    /// when there is no such model.
    pub model: Option<Model>,
    /// The model's grant (`None`: every role may use it).
    pub grant: Option<Vec<String>>,
    /// The tenant's cap on output tokens per message.
    pub max_tokens_cap: Option<i32>,
    /// The tenant's system prompt, put before the conversation's.
    pub tenant_prompt: Option<String>,
    /// The model name that was looked for (`None`: the default).
    pub wanted: Option<String>,
    /// A run is already going on in the conversation (a send now would be refused).
    pub busy: bool,
    /// The branch the message continues, root first, with only what the model is shown:
    /// its last message is the new message's parent (empty for a new first message).
    /// `None`: the parent named is not a message of the conversation ([`foreign_parent`]).
    pub branch: Option<Vec<Message>>,
}

/// The caller's conversation `id`, the model for it and the branch below which `parent`
/// puts the new message; another user's conversation is "not found".
pub async fn target(
    store: &Store,
    tenant: TenantId,
    user: UserId,
    id: Uuid,
    model: Option<&str>,
    parent: Parent,
) -> Result<Target, StoreError> {
    let (named, below_leaf) = match parent {
        Parent::CurrentLeaf => (None, true),
        Parent::Root => (None, false),
        Parent::Message(m) => (Some(m), false),
    };
    let row = sqlx::query("SELECT * FROM penny_send_read($1, $2, $3, $4, $5, $6)")
        .bind(tenant)
        .bind(user)
        .bind(id)
        .bind(model)
        .bind(named)
        .bind(below_leaf)
        .fetch_optional(store.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    let branch: Vec<Message> = row.try_get::<Json<Vec<Message>>, _>("branch")?.0;
    let model = match row.try_get::<Option<Uuid>, _>("m_id")? {
        None => None,
        Some(id) => Some(Model {
            id,
            name: row.try_get("m_name")?,
            provider: row.try_get("m_provider")?,
            base_url: row.try_get("m_base_url")?,
            api_key_sealed: row.try_get("m_api_key_sealed")?,
            model: row.try_get("m_model")?,
            context_window: row.try_get("m_context_window")?,
            max_output_tokens: row.try_get("m_max_output_tokens")?,
            price_input_per_1k: row.try_get("m_price_input_per_1k")?,
            price_output_per_1k: row.try_get("m_price_output_per_1k")?,
            is_default: row.try_get("m_is_default")?,
            fallback: row.try_get("m_fallback")?,
            // Not read by a send, which never edits the model.
            operator_managed: false,
            // A send checks the kind (an embedding model answers nothing).
            kind: row.try_get("m_kind")?,
            dimensions: None,
            created_at: row.try_get("m_created_at")?,
            updated_at: row.try_get("m_updated_at")?,
        }),
    };
    Ok(Target {
        system_prompt: row.try_get("system_prompt")?,
        wanted: row.try_get("wanted")?,
        model,
        grant: row.try_get("grant_roles")?,
        max_tokens_cap: row.try_get("cap")?,
        tenant_prompt: row.try_get("tenant_prompt")?,
        busy: row.try_get("busy")?,
        branch: (named.is_none() || !branch.is_empty()).then_some(branch),
    })
}

/// A send's rows, with ids chosen by the caller so that `run.started` can name them.
pub struct NewSend<'a> {
    pub tenant: TenantId,
    pub conversation: Uuid,
    /// The user message's parent; `None` for a new first message.
    pub parent: Option<Uuid>,
    pub user_message: Uuid,
    pub assistant_message: Uuid,
    pub run: Uuid,
    pub content: &'a str,
    /// Also attached to the user message (a JSON array; `[]` for none).
    pub attachments: &'a Value,
    /// The collections picked for the user message (a JSON array; `[]` for none).
    pub collections: &'a Value,
    pub model: &'a str,
    /// The conversation's title when it still has the default one and no messages.
    pub first_title: &'a str,
    /// This instance, the run's first lease owner.
    pub owner: &'a str,
    pub lease: Duration,
    /// The `run.started` event (without `seq`).
    pub started: &'a Value,
    /// A new answer to `user_message`, a question already asked (regenerating an
    /// answer): no user message is stored, and `parent`, `content`, `attachments`,
    /// `collections` and `first_title` are not used.
    pub regenerate: bool,
}

/// Stores a send; returns the seq of its `run.started`. A parent that is not a message of
/// the conversation is `Invalid { field: "parentId" }`; a run already going on in the
/// conversation is `Conflict`.
pub async fn store(store: &Store, s: NewSend<'_>) -> Result<i64, StoreError> {
    if s.regenerate {
        return store_answer(store, s).await;
    }
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT penny_send_store($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(s.tenant)
    .bind(s.conversation)
    .bind(s.parent)
    .bind(s.user_message)
    .bind(s.assistant_message)
    .bind(s.run)
    .bind(s.content)
    .bind(s.attachments)
    .bind(s.collections)
    .bind(s.model)
    .bind(s.first_title)
    .bind(s.owner)
    .bind(s.lease.as_secs_f64())
    .bind(s.started)
    .fetch_one(store.pool())
    .await
    .map_err(|e| StoreError::unique(e, RUNNING))?;
    seq.ok_or_else(foreign_parent)
}

/// A new answer to the question `s.user_message` (migration 0019).
async fn store_answer(store: &Store, s: NewSend<'_>) -> Result<i64, StoreError> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT penny_send_store_answer($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(s.tenant)
            .bind(s.conversation)
            .bind(s.user_message)
            .bind(s.assistant_message)
            .bind(s.run)
            .bind(s.model)
            .bind(s.owner)
            .bind(s.lease.as_secs_f64())
            .bind(s.started)
            .fetch_one(store.pool())
            .await
            .map_err(|e| StoreError::unique(e, RUNNING))?;
    seq.ok_or_else(not_a_question)
}

const RUNNING: &str = "a running generation in this conversation";

/// The error of a send to a conversation where a run is going on.
pub fn busy() -> StoreError {
    StoreError::Conflict(RUNNING)
}

/// The error of a send whose parent is not a message of its conversation.
pub fn foreign_parent() -> StoreError {
    StoreError::Invalid {
        field: "parentId",
        message: "is not a message of this conversation".into(),
    }
}

/// The error of a regeneration whose parent is not a question of the conversation.
pub fn not_a_question() -> StoreError {
    StoreError::Invalid {
        field: "parentId",
        message: "must name the question (a user message) whose answer to regenerate".into(),
    }
}

/// Where a new user message goes in the conversation's tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Parent {
    /// Below the conversation's current leaf: the next message of the current branch.
    #[default]
    CurrentLeaf,
    /// A new first message: editing the first message makes a sibling of it.
    Root,
    /// Below this message: editing or regenerating further down makes a sibling branch.
    Message(Uuid),
}

impl Parent {
    /// From an API field that tells "absent" (`None`) from an explicit `null` (`Some(None)`).
    pub fn from_field(field: Option<Option<Uuid>>) -> Self {
        match field {
            None => Parent::CurrentLeaf,
            Some(None) => Parent::Root,
            Some(Some(id)) => Parent::Message(id),
        }
    }
}
