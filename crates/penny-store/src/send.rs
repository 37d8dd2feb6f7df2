//! Sending a message, the hottest write of the chat: two statements instead of a dozen.
//! [`target`] reads, in one query, what decides whether the send may go ahead (the
//! caller's conversation, the model it names or falls back to, that model's grant and the
//! tenant's token cap). [`store`] then writes the user message, the empty streaming
//! answer, the conversation's new leaf and title, the run and its `run.started` event in
//! one statement, so there is never a message without its run or a run without its event.

use std::time::Duration;

use serde_json::Value;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::conversations::{Message, BRANCH_COLUMNS, WALK_UP};
use crate::models::Model;
use crate::{StoreError, TenantId, UserId};

/// What a send goes to.
#[derive(Debug, Clone)]
pub struct Target {
    pub system_prompt: Option<String>,
    pub current_leaf: Option<Uuid>,
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
}

/// The caller's conversation `id` and the model for it; another user's conversation is
/// "not found".
pub async fn target(
    conn: &mut PgConnection,
    user: UserId,
    id: Uuid,
    model: Option<&str>,
) -> Result<Target, StoreError> {
    let row = sqlx::query(
        "SELECT c.system_prompt, c.current_leaf, coalesce($3, c.model) AS wanted, \
                m.id AS m_id, m.name AS m_name, m.provider AS m_provider, \
                m.base_url AS m_base_url, m.api_key_sealed AS m_api_key_sealed, \
                m.model AS m_model, m.context_window AS m_context_window, \
                m.max_output_tokens AS m_max_output_tokens, \
                m.price_input_per_1k AS m_price_input_per_1k, \
                m.price_output_per_1k AS m_price_output_per_1k, \
                m.is_default AS m_is_default, m.fallback AS m_fallback, \
                m.created_at AS m_created_at, m.updated_at AS m_updated_at, \
                g.roles AS grant_roles, \
                p.max_tokens_per_message AS cap, p.system_prompt AS tenant_prompt, \
                EXISTS (SELECT 1 FROM runs r WHERE r.conversation_id = c.id \
                        AND r.status = 'running') AS busy \
         FROM conversations c \
         LEFT JOIN LATERAL ( \
             SELECT * FROM models \
             WHERE CASE WHEN coalesce($3, c.model) IS NULL THEN is_default \
                        ELSE name = coalesce($3, c.model) END \
             LIMIT 1) m ON true \
         LEFT JOIN model_grants g ON g.model_id = m.id \
         LEFT JOIN tenant_policies p ON true \
         WHERE c.id = $1 AND c.user_id = $2",
    )
    .bind(id)
    .bind(user)
    .bind(model)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
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
            created_at: row.try_get("m_created_at")?,
            updated_at: row.try_get("m_updated_at")?,
        }),
    };
    Ok(Target {
        system_prompt: row.try_get("system_prompt")?,
        current_leaf: row.try_get("current_leaf")?,
        wanted: row.try_get("wanted")?,
        model,
        grant: row.try_get("grant_roles")?,
        max_tokens_cap: row.try_get("cap")?,
        tenant_prompt: row.try_get("tenant_prompt")?,
        busy: row.try_get("busy")?,
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
    pub model: &'a str,
    /// The conversation's title when it still has the default one and no messages.
    pub first_title: &'a str,
    /// This instance, the run's first lease owner.
    pub owner: &'a str,
    pub lease: Duration,
    /// The `run.started` event (without `seq`).
    pub started: &'a Value,
}

/// Stores a send; returns the seq of its `run.started`. A parent that is not a message of
/// the conversation is `Invalid { field: "parentId" }`; a run already going on in the
/// conversation is `Conflict`.
pub async fn store(conn: &mut PgConnection, s: NewSend<'_>) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "WITH parent AS ( \
             SELECT $3::uuid IS NULL \
                 OR EXISTS (SELECT 1 FROM messages WHERE id = $3 AND conversation_id = $2) AS ok), \
         u AS ( \
             INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, content, status, attachments) \
             SELECT $4, $1, $2, $3, 'user', $7, 'complete', $8 FROM parent WHERE ok \
             RETURNING id), \
         a AS ( \
             INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, content, status, model) \
             SELECT $5, $1, $2, u.id, 'assistant', '', 'streaming', $9 FROM u \
             RETURNING id), \
         c AS ( \
             UPDATE conversations SET current_leaf = a.id, updated_at = now(), \
                 title = CASE WHEN current_leaf IS NULL AND title = 'New conversation' \
                              THEN $10 ELSE title END \
             FROM a WHERE conversations.id = $2 \
             RETURNING conversations.id), \
         s AS ( \
             UPDATE conversation_seqs SET last_seq = last_seq + 1 \
             FROM c WHERE conversation_seqs.conversation_id = c.id \
             RETURNING last_seq), \
         r AS ( \
             INSERT INTO runs (id, tenant_id, conversation_id, user_message_id, assistant_message_id, \
                               lease_owner, lease_expires_at) \
             SELECT $6, $1, $2, $4, a.id, $11, now() + make_interval(secs => $12) FROM a \
             RETURNING id), \
         e AS ( \
             INSERT INTO conversation_events (tenant_id, conversation_id, seq, event) \
             SELECT $1, $2, s.last_seq, $13::jsonb || jsonb_build_object('seq', s.last_seq) FROM s, r \
             RETURNING seq) \
         SELECT seq FROM e",
    )
    .bind(s.tenant)
    .bind(s.conversation)
    .bind(s.parent)
    .bind(s.user_message)
    .bind(s.assistant_message)
    .bind(s.run)
    .bind(s.content)
    .bind(s.attachments)
    .bind(s.model)
    .bind(s.first_title)
    .bind(s.owner)
    .bind(s.lease.as_secs_f64())
    .bind(s.started)
    .fetch_optional(conn)
    .await
    .map_err(|e| StoreError::unique(e, RUNNING))?;
    seq.ok_or_else(foreign_parent)
}

const RUNNING: &str = "a running generation in this conversation";

/// The error of a send to a conversation where a run is going on.
pub fn busy() -> StoreError {
    StoreError::Conflict(RUNNING)
}

fn foreign_parent() -> StoreError {
    StoreError::Invalid {
        field: "parentId",
        message: "is not a message of this conversation".into(),
    }
}

/// The branch a new message continues: from the root to `parent`, with only what the
/// model is shown (empty for a new first message). A parent that is not a message of the
/// conversation is refused as [`store`] refuses it.
pub async fn branch_to(
    conn: &mut PgConnection,
    conversation: Uuid,
    parent: Option<Uuid>,
) -> Result<Vec<Message>, StoreError> {
    let Some(parent) = parent else {
        return Ok(Vec::new());
    };
    let branch = context(conn, conversation, parent).await?;
    if branch.is_empty() {
        return Err(foreign_parent());
    }
    Ok(branch)
}

/// What a run answers: the branch from the root to `leaf`, root first, with only what the
/// model is shown (sibling counts are not computed: the model sees one branch).
async fn context(
    conn: &mut PgConnection,
    conversation: Uuid,
    leaf: Uuid,
) -> Result<Vec<Message>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "{WALK_UP} \
         SELECT {BRANCH_COLUMNS}, 1::bigint AS siblings, 1::bigint AS sibling_index \
         FROM up CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.id = up.id OFFSET 0) m ORDER BY up.depth DESC"
    ))
    .bind(conversation)
    .bind(leaf)
    .bind(None::<i64>)
    .bind(1_i64)
    .fetch_all(conn)
    .await?)
}
