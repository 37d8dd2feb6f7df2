//! PENNY's system of record on PostgreSQL.
//!
//! Two kinds of connection: the *owner* connection runs migrations and platform checks;
//! the application pool runs every query as `penny_app`, a role that is not a superuser
//! and does not bypass row-level security. Tenant-owned data is only reachable through
//! [`Store::tenant`], which opens a transaction with `app.tenant_id` set (`SET LOCAL`
//! semantics), so a forgotten `WHERE tenant_id` cannot leak another tenant's rows.
//!
//! This crate knows nothing about HTTP.

pub mod access;
pub mod analytics;
pub mod api_keys;
pub mod artifacts;
pub mod audit;
pub mod conversations;
mod error;
pub mod events;
pub mod files;
pub mod garbage;
pub mod instances;
pub mod invitations;
pub mod knowledge;
mod migrate;
pub mod models;
pub mod policies;
pub mod runs;
pub mod send;
pub mod sessions;
pub mod setup;
pub mod tenants;
pub mod themes;
pub mod tools;
mod types;
pub mod users;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};

pub use error::StoreError;
pub use migrate::{check_extensions, migrate, MissingExtension, REQUIRED_EXTENSIONS};
pub use types::{Email, Role, Slug, TenantId, UserId};

/// The role every application query runs as.
pub const APP_ROLE: &str = "penny_app";

/// A transaction scoped to one tenant: row-level security shows only that tenant's rows.
pub type TenantTx = Transaction<'static, Postgres>;

/// Scopes the rest of transaction `tx` to `tenant` (like `SET LOCAL`: ends with `tx`).
pub async fn scope_to(tx: &mut TenantTx, tenant: TenantId) -> Result<(), StoreError> {
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.0.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Opens the application pool. Every connection switches to [`APP_ROLE`] before use.
    pub async fn connect(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            // Broken connections surface as errors on use; a ping before every checkout
            // would add a round trip to every request.
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET ROLE {APP_ROLE}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// For platform tables (tenants) that are not tenant-owned.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a transaction in which only `tenant`'s rows exist.
    pub async fn tenant(&self, tenant: TenantId) -> Result<TenantTx, StoreError> {
        // One round trip for BEGIN and the scope (the hot path of every request). The
        // tenant id is a typed UUID, so inlining it cannot inject SQL.
        let begin = format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
            tenant.0
        );
        Ok(self.pool.begin_with(begin).await?)
    }

    /// Begins an unscoped transaction: only platform tables until [`scope_to`] is called.
    pub async fn begin(&self) -> Result<TenantTx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Answers when the database does (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
