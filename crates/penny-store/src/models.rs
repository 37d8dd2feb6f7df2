//! Per-tenant model configurations: chat models and embedding models (migration 0029:
//! `kind`, and an embedding model's `dimensions`). The upstream API key is stored sealed
//! (encrypted by the caller) and never read back out through the API.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{StoreError, TenantId};

#[derive(Debug, Clone, FromRow)]
pub struct Model {
    pub id: Uuid,
    pub name: String,
    pub provider: String,
    pub base_url: String,
    pub api_key_sealed: Option<Vec<u8>>,
    pub model: String,
    pub context_window: i32,
    pub max_output_tokens: i32,
    pub price_input_per_1k: f64,
    pub price_output_per_1k: f64,
    pub is_default: bool,
    pub fallback: Option<String>,
    /// Configured by the operator's environment: its endpoint and key are not editable.
    pub operator_managed: bool,
    /// `chat` or `embedding`.
    pub kind: String,
    /// An embedding model's vector size (`None` for chat models).
    pub dimensions: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, name, provider, base_url, api_key_sealed, model, context_window, max_output_tokens, \
     price_input_per_1k, price_output_per_1k, is_default, fallback, operator_managed, kind, \
     dimensions, created_at, updated_at";

/// A model that answers messages.
pub const CHAT: &str = "chat";
/// A model that embeds text for knowledge (an OpenAI-compatible `/embeddings` endpoint).
pub const EMBEDDING: &str = "embedding";

impl Model {
    pub fn is_embedding(&self) -> bool {
        self.kind == EMBEDDING
    }
}

/// Every field of a model; `create` and `update` take the whole thing.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub provider: String,
    pub base_url: String,
    pub api_key_sealed: Option<Vec<u8>>,
    pub model: String,
    pub context_window: i32,
    pub max_output_tokens: i32,
    pub price_input_per_1k: f64,
    pub price_output_per_1k: f64,
    pub is_default: bool,
    pub fallback: Option<String>,
    /// [`CHAT`] or [`EMBEDDING`]; fixed when the model is made.
    pub kind: String,
    pub dimensions: Option<i32>,
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict("a model with this name");
        }
        if db.is_check_violation() {
            return StoreError::Invalid {
                field: "name",
                message:
                    "use letters, digits and . _ : / - (1-100 characters); numbers must be positive"
                        .into(),
            };
        }
    }
    StoreError::Database(e)
}

async fn clear_default(
    conn: &mut PgConnection,
    spec: &ModelSpec,
    except: Option<Uuid>,
) -> Result<(), StoreError> {
    if spec.is_default {
        sqlx::query(
            "UPDATE models SET is_default = false WHERE is_default AND id IS DISTINCT FROM $1",
        )
        .bind(except)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Binds a spec's fields as parameters $2..$13, in the order of the `models` columns.
fn bind_spec<'q>(q: ModelQuery<'q>, s: &'q ModelSpec) -> ModelQuery<'q> {
    q.bind(&s.name)
        .bind(&s.provider)
        .bind(&s.base_url)
        .bind(&s.api_key_sealed)
        .bind(&s.model)
        .bind(s.context_window)
        .bind(s.max_output_tokens)
        .bind(s.price_input_per_1k)
        .bind(s.price_output_per_1k)
        .bind(s.is_default)
        .bind(&s.fallback)
        .bind(s.dimensions)
}

type ModelQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, Model, sqlx::postgres::PgArguments>;

pub async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    s: ModelSpec,
) -> Result<Model, StoreError> {
    clear_default(conn, &s, None).await?;
    let sql = format!(
        "INSERT INTO models (tenant_id, name, provider, base_url, api_key_sealed, model, context_window, \
         max_output_tokens, price_input_per_1k, price_output_per_1k, is_default, fallback, dimensions, \
         kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {COLUMNS}"
    );
    let q = sqlx::query_as(&sql);
    bind_spec(q.bind(tenant), &s)
        .bind(&s.kind)
        .fetch_one(conn)
        .await
        .map_err(map_err)
}

pub async fn update(conn: &mut PgConnection, id: Uuid, s: ModelSpec) -> Result<Model, StoreError> {
    clear_default(conn, &s, Some(id)).await?;
    let sql = format!(
        "UPDATE models SET name = $2, provider = $3, base_url = $4, api_key_sealed = $5, model = $6, \
         context_window = $7, max_output_tokens = $8, price_input_per_1k = $9, price_output_per_1k = $10, \
         is_default = $11, fallback = $12, dimensions = $13, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let q = sqlx::query_as(&sql);
    bind_spec(q.bind(id), &s)
        .fetch_optional(conn)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<Model>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM models ORDER BY is_default DESC, name"
    ))
    .fetch_all(conn)
    .await?)
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<Model>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM models WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The chat model called `name`, or the tenant's default when `name` is `None`.
pub async fn resolve(
    conn: &mut PgConnection,
    name: Option<&str>,
) -> Result<Option<Model>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM models WHERE kind = 'chat' \
         AND CASE WHEN $1::text IS NULL THEN is_default ELSE name = $1 END"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await?)
}

/// Makes the model `name` the operator's, with the endpoint and key of the environment
/// (creating it from `s` when missing): the environment is the truth for these models.
pub async fn put_operator_model(
    conn: &mut PgConnection,
    tenant: TenantId,
    s: ModelSpec,
) -> Result<Model, StoreError> {
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
        .bind(&s.name)
        .fetch_optional(&mut *conn)
        .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE models SET provider = $2, base_url = $3, api_key_sealed = $4, updated_at = now() \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&s.provider)
            .bind(&s.base_url)
            .bind(&s.api_key_sealed)
            .execute(&mut *conn)
            .await?;
            id
        }
        None => create(conn, tenant, s).await?.id,
    };
    sqlx::query_as(&format!(
        "UPDATE models SET operator_managed = true WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .map_err(StoreError::from)
}

/// The model called `name`, of any kind.
pub async fn by_name(conn: &mut PgConnection, name: &str) -> Result<Option<Model>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM models WHERE name = $1"))
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

/// How many collections are embedded with the model called `name`.
pub async fn collections_using(conn: &mut PgConnection, name: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM collections WHERE embedding_model = $1")
            .bind(name)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    let n = sqlx::query("DELETE FROM models WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    StoreError::found(n)
}
