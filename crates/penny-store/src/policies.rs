//! A tenant's governance policies: which roles may use each model (a model without a
//! grant is open to every role), a cap on output tokens per message, how long
//! conversations are kept (the retention sweep), and the system prompt every run starts
//! with.

use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{audit, Role, Store, StoreError, TenantId};

/// The tenant-wide limits (`None` means no limit) and system prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct Limits {
    pub max_tokens_per_message: Option<i32>,
    pub retention_days: Option<i32>,
    /// Put before every conversation's own system prompt.
    pub system_prompt: Option<String>,
}

pub async fn limits(conn: &mut PgConnection) -> Result<Limits, StoreError> {
    Ok(sqlx::query_as(
        "SELECT max_tokens_per_message, retention_days, system_prompt FROM tenant_policies",
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

pub async fn put_limits(
    conn: &mut PgConnection,
    tenant: TenantId,
    l: Limits,
) -> Result<(), StoreError> {
    for (field, v) in [
        ("maxTokensPerMessage", l.max_tokens_per_message),
        ("retentionDays", l.retention_days),
    ] {
        if v.is_some_and(|n| n <= 0) {
            return Err(StoreError::Invalid {
                field,
                message: "must be positive or null".into(),
            });
        }
    }
    sqlx::query(
        "INSERT INTO tenant_policies (tenant_id, max_tokens_per_message, retention_days, system_prompt) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
           max_tokens_per_message = EXCLUDED.max_tokens_per_message, \
           retention_days = EXCLUDED.retention_days, \
           system_prompt = EXCLUDED.system_prompt, updated_at = now()",
    )
    .bind(tenant)
    .bind(l.max_tokens_per_message)
    .bind(l.retention_days)
    .bind(l.system_prompt.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// The roles granted one model, by the model's current name.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ModelGrant {
    pub model_id: Uuid,
    pub name: String,
    pub roles: Vec<String>,
}

/// Every model grant of the tenant, by model name.
pub async fn model_grants(conn: &mut PgConnection) -> Result<Vec<ModelGrant>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT g.model_id, m.name, g.roles FROM model_grants g JOIN models m ON m.id = g.model_id \
         ORDER BY m.name",
    )
    .fetch_all(conn)
    .await?)
}

/// Replaces every model grant of the tenant with `grants` (model id, roles).
pub async fn replace_model_grants(
    conn: &mut PgConnection,
    tenant: TenantId,
    grants: &[(Uuid, Vec<Role>)],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM model_grants")
        .execute(&mut *conn)
        .await?;
    for (model, roles) in grants {
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        sqlx::query("INSERT INTO model_grants (tenant_id, model_id, roles) VALUES ($1, $2, $3)")
            .bind(tenant)
            .bind(model)
            .bind(&roles)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether `role` may use the model `model` (true when the model has no grant).
pub async fn model_allows(
    conn: &mut PgConnection,
    model: Uuid,
    role: Role,
) -> Result<bool, StoreError> {
    let roles: Option<Vec<String>> =
        sqlx::query_scalar("SELECT roles FROM model_grants WHERE model_id = $1")
            .bind(model)
            .fetch_optional(conn)
            .await?;
    Ok(grants(roles.as_deref(), role))
}

/// Whether a model's grant (`None`: no grant) lets `role` use it.
pub fn grants(roles: Option<&[String]>, role: Role) -> bool {
    roles.is_none_or(|rs| rs.iter().any(|r| r == role.as_str()))
}

#[derive(FromRow)]
struct Retention {
    tenant_id: TenantId,
    retention_days: i32,
}

/// Deletes, in every tenant with a retention policy, what is older than the policy
/// allows: conversations not updated for that long (with their messages and artifacts),
/// artifacts of no conversation not updated for that long, and uploads made that long ago
/// that no remaining message has attached. Each tenant runs under its own RLS with an
/// audit record of what went; their objects are queued for deletion by the rows' triggers.
/// A tenant that fails is logged and skipped (the next sweep retries it). Returns how many
/// rows (conversations, artifacts, uploads) were deleted in all.
pub async fn sweep_retention(store: &Store) -> Result<u64, StoreError> {
    let targets: Vec<Retention> =
        sqlx::query_as("SELECT tenant_id, retention_days FROM penny_retention_policies()")
            .fetch_all(store.pool())
            .await?;
    let mut total = 0;
    for t in targets {
        match sweep_tenant(store, &t).await {
            Ok(n) => total += n,
            Err(e) => {
                tracing::warn!(error = %e, tenant_id = %t.tenant_id, "retention sweep of a tenant failed")
            }
        }
    }
    Ok(total)
}

async fn sweep_tenant(store: &Store, t: &Retention) -> Result<u64, StoreError> {
    let mut tx = store.tenant(t.tenant_id).await?;
    let conversations = sqlx::query(
        "DELETE FROM conversations WHERE updated_at < now() - make_interval(days => $1)",
    )
    .bind(t.retention_days)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let artifacts = sqlx::query(
        "DELETE FROM artifacts WHERE conversation_id IS NULL \
         AND updated_at < now() - make_interval(days => $1)",
    )
    .bind(t.retention_days)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // An upload still attached to a message that stays is kept with it.
    let files = sqlx::query(
        "DELETE FROM files f WHERE f.created_at < now() - make_interval(days => $1) \
         AND NOT EXISTS (SELECT 1 FROM messages m \
                         WHERE m.attachments @> jsonb_build_array(jsonb_build_object('id', f.id)))",
    )
    .bind(t.retention_days)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let n = conversations + artifacts + files;
    if n > 0 {
        let entry = audit::Entry {
            action: "conversation.retention_purge",
            target_type: Some("tenant"),
            target_id: Some(t.tenant_id.to_string()),
            details: serde_json::json!({"deleted": conversations, "artifacts": artifacts,
                "files": files, "retentionDays": t.retention_days}),
            ..Default::default()
        };
        audit::append(&mut tx, t.tenant_id, entry).await?;
    }
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_without_grant_is_open_and_a_grant_is_exact() {
        assert!(grants(None, Role::Viewer));
        let only_creators = vec!["creator".to_string()];
        assert!(grants(Some(&only_creators), Role::Creator));
        assert!(!grants(Some(&only_creators), Role::Admin));
        assert!(!grants(Some(&[]), Role::Admin));
    }
}
