//! First run: tenant `default` and its admin, who is also the platform super-admin.
//! The password comes from `PENNY_ADMIN_PASSWORD`, or is generated and printed once.

use penny_auth::{hash_password, SealingKey};
use penny_store::models::{self, ModelSpec};
use penny_store::users::NewUser;
use penny_store::{audit, tenants, users, Email, Role, Slug, Store, StoreError};
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::config::Config;

pub const DEFAULT_TENANT: &str = "default";

/// What the first run created, so the caller can show it.
pub struct FirstRun {
    pub email: String,
    /// Present when generated (shown once).
    pub generated_password: Option<String>,
}

pub async fn ensure_default_tenant(
    store: &Store,
    cfg: &Config,
) -> anyhow::Result<Option<FirstRun>> {
    if tenants::by_slug(store.pool(), DEFAULT_TENANT)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let email = Email::parse(&cfg.admin_email)
        .map_err(|e| anyhow::anyhow!("config error: PENNY_ADMIN_EMAIL {e}"))?;
    let (password, generated) = match &cfg.admin_password {
        Some(p) => (p.clone(), false),
        None => {
            let p: String = rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(20)
                .map(char::from)
                .collect();
            (p, true)
        }
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
        .await?
        .map_err(|e| anyhow::anyhow!("config error: PENNY_ADMIN_PASSWORD {e}"))?;
    let slug = Slug::parse(DEFAULT_TENANT)?;
    // Tenant and admin commit together: there is never a default tenant without its admin.
    let mut tx = store.begin().await?;
    let tenant = match tenants::create(&mut *tx, "Default", &slug).await {
        Ok(t) => t,
        // Another instance starting at the same moment won the race.
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    penny_store::scope_to(&mut tx, tenant.id).await?;
    let user = users::create(
        &mut tx,
        tenant.id,
        NewUser {
            email: &email,
            role: Role::Admin,
            password_hash: Some(hash.0),
            display_name: Some("Administrator".into()),
            is_super_admin: true,
        },
    )
    .await?;
    audit::append(
        &mut tx,
        tenant.id,
        audit::Entry {
            action: "platform.bootstrap",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            details: serde_json::json!({"email": user.email}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(FirstRun {
        email: user.email,
        generated_password: generated.then_some(hash.1),
    }))
}

/// `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` (with `*_BASE_URL`, `*_MODEL`) add a model to
/// tenant `default` at start unless one with that name exists; the first becomes default.
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
        if existing.iter().any(|m| m.name == s.model) {
            continue;
        }
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
            is_default: existing.is_empty(),
            fallback: None,
        };
        models::create(&mut tx, tenant.id, spec).await?;
        tx.commit().await?;
        tracing::info!(model = %s.model, provider, "added a model from the environment");
    }
    Ok(())
}
