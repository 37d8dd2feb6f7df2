//! First run: tenant `default` and its admin, who is also the platform super-admin.
//! With `PENNY_ADMIN_PASSWORD` the admin is created at start; without it the tenant starts
//! empty and every start of an API process prints a fresh one-time set-up link, with
//! which the browser creates the admin (`POST /api/v1/setup`).

use penny_auth::{digest, hash_password, new_refresh_token, SealingKey};
use penny_store::models::{self, ModelSpec};
use penny_store::users::NewUser;
use penny_store::{audit, setup, tenants, users, Email, Role, Slug, Store, StoreError, TenantId};

use crate::config::Config;

pub use penny_store::setup::DEFAULT_TENANT;

/// What this start did about the default tenant's admin, so the caller can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstRun {
    /// The admin was created now from `PENNY_ADMIN_EMAIL`/`PENNY_ADMIN_PASSWORD`.
    Admin { email: String },
    /// There is no admin yet: this one-time token (valid until an admin exists, or until
    /// 16 later starts have printed theirs) lets the browser create one at
    /// `/setup#<token>`.
    Setup { token: String },
}

/// Makes sure tenant `default` exists and, while it has no admin, creates the admin from
/// the configuration or else (when `offer_setup`: this process serves the web app) issues
/// a new set-up token. `None` when the admin already exists or nothing is to be shown.
pub async fn ensure_default_tenant(
    store: &Store,
    cfg: &Config,
    offer_setup: bool,
) -> anyhow::Result<Option<FirstRun>> {
    let tenant = default_tenant(store).await?;
    let mut tx = store.tenant(tenant).await?;
    let admin = setup::has_admin(&mut tx).await?;
    tx.commit().await?;
    if admin {
        return Ok(None);
    }
    if let Some(password) = &cfg.admin_password {
        if let Some(created) = create_admin(store, cfg, tenant, password.clone()).await? {
            return Ok(Some(created));
        }
    }
    if offer_setup {
        issue_setup_token(store, tenant).await
    } else {
        Ok(None)
    }
}

/// Tenant `default`, created when missing.
async fn default_tenant(store: &Store) -> anyhow::Result<TenantId> {
    if let Some(t) = tenants::by_slug(store.pool(), DEFAULT_TENANT).await? {
        return Ok(t.id);
    }
    let slug = Slug::parse(DEFAULT_TENANT)?;
    match tenants::create(store.pool(), "Default", &slug).await {
        Ok(t) => Ok(t.id),
        // Another instance starting at the same moment created it.
        Err(StoreError::Conflict(_)) => tenants::by_slug(store.pool(), DEFAULT_TENANT)
            .await?
            .map(|t| t.id)
            .ok_or_else(|| anyhow::anyhow!("tenant `default` vanished while starting")),
        Err(e) => Err(e.into()),
    }
}

async fn create_admin(
    store: &Store,
    cfg: &Config,
    tenant: TenantId,
    password: String,
) -> anyhow::Result<Option<FirstRun>> {
    let email = Email::parse(&cfg.admin_email)
        .map_err(|e| anyhow::anyhow!("config error: PENNY_ADMIN_EMAIL {e}"))?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("config error: PENNY_ADMIN_PASSWORD {e}"))?;
    let mut tx = store.tenant(tenant).await?;
    setup::lock(&mut tx).await?;
    // Another instance, or the browser, may have been quicker.
    if setup::has_admin(&mut tx).await? {
        return Ok(None);
    }
    let created = users::create(
        &mut tx,
        tenant,
        NewUser {
            email: &email,
            role: Role::Admin,
            password_hash: Some(hash),
            display_name: Some("Administrator".into()),
            is_super_admin: true,
        },
    )
    .await;
    let user = match created {
        Ok(u) => u,
        // The address belongs to a user who is not an admin: not ours to take over, and no
        // reason to refuse to start; the set-up link is offered instead.
        Err(StoreError::Conflict(_)) => {
            tracing::warn!(email = %email.as_str(), "tenant `default` has no admin and PENNY_ADMIN_EMAIL \
                is an existing user's; use the set-up link, or `penny admin set-role … --role admin`");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    audit::append(
        &mut tx,
        tenant,
        audit::Entry {
            action: "platform.bootstrap",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            details: serde_json::json!({"email": user.email, "via": "config"}),
            ..Default::default()
        },
    )
    .await?;
    setup::clear(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(FirstRun::Admin { email: user.email }))
}

/// A set-up token: the refresh tokens' randomness (48 alphanumerics, ~285 bits) with its
/// own prefix, stored as SHA-256 only.
fn new_setup_token() -> (String, Vec<u8>) {
    let (refresh, _) = new_refresh_token();
    let random = refresh.split_once('_').map_or(refresh.as_str(), |(_, r)| r);
    let token = format!("setup_{random}");
    let d = digest(&token);
    (token, d)
}

async fn issue_setup_token(store: &Store, tenant: TenantId) -> anyhow::Result<Option<FirstRun>> {
    let (token, d) = new_setup_token();
    let mut tx = store.tenant(tenant).await?;
    setup::lock(&mut tx).await?;
    if setup::has_admin(&mut tx).await? {
        return Ok(None);
    }
    setup::issue(&mut *tx, &d).await?;
    tx.commit().await?;
    Ok(Some(FirstRun::Setup { token }))
}

/// `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` (with `*_BASE_URL`, `*_MODEL`) put a model in
/// tenant `default` at start; the first becomes default. Such a model is the operator's:
/// its endpoint and key come from the environment at every start, and tenant admins
/// cannot change them.
pub async fn ensure_shortcut_models(
    store: &Store,
    cfg: &Config,
    sealing: &SealingKey,
) -> anyhow::Result<()> {
    let Some(tenant) = tenants::by_slug(store.pool(), DEFAULT_TENANT).await? else {
        return Ok(());
    };
    for (provider, shortcut) in [("openai", &cfg.openai), ("anthropic", &cfg.anthropic)] {
        let Some(s) = shortcut else { continue };
        let mut tx = store.tenant(tenant.id).await?;
        let existing = models::list(&mut tx).await?;
        let spec = ModelSpec {
            name: s.model.clone(),
            provider: provider.into(),
            base_url: s.base_url.clone(),
            api_key_sealed: Some(sealing.seal(&s.api_key)),
            model: s.model.clone(),
            context_window: 128_000,
            max_output_tokens: 4096,
            price_input_per_1k: 0.0,
            price_output_per_1k: 0.0,
            is_default: existing.iter().all(|m| m.is_embedding()),
            fallback: None,
            kind: models::CHAT.into(),
            dimensions: None,
        };
        models::put_operator_model(&mut tx, tenant.id, spec).await?;
        tx.commit().await?;
        tracing::info!(model = %s.model, provider, "model from the environment in place");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_tokens_are_prefixed_random_and_hashed() {
        let (a, da) = new_setup_token();
        let (b, _) = new_setup_token();
        assert_ne!(a, b);
        assert!(a.starts_with("setup_"), "{a}");
        assert_eq!(a.len(), "setup_".len() + 48);
        assert_eq!(digest(&a), da);
    }
}
