//! First run: tenant `default` and its admin, who is also the platform super-admin.
//! The password comes from `PENNY_ADMIN_PASSWORD`, or is generated and printed once.

use penny_auth::hash_password;
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
