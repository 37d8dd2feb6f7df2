//! Embedded migrations, run by `penny migrate` and at `serve` start. sqlx's migrator holds
//! a PostgreSQL advisory lock while it runs, so instances starting together do not race.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Extensions the schema needs, with the package that provides each on Debian/Ubuntu.
pub const REQUIRED_EXTENSIONS: [(&str, &str); 3] = [
    (
        "vector",
        "pgvector (build it with `make setup`, or apt install postgresql-<major>-pgvector)",
    ),
    ("pg_trgm", "postgresql-contrib"),
    ("uuid-ossp", "postgresql-contrib"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingExtension {
    pub name: &'static str,
    pub install_hint: &'static str,
}

/// Lists required extensions that this server cannot create.
pub async fn check_extensions(
    owner: &PgConnectOptions,
) -> Result<Vec<MissingExtension>, StoreError> {
    let mut conn = owner.connect().await?;
    let available: Vec<String> = sqlx::query_scalar("SELECT name FROM pg_available_extensions")
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    Ok(REQUIRED_EXTENSIONS
        .iter()
        .filter(|(name, _)| !available.iter().any(|a| a == name))
        .map(|(name, hint)| MissingExtension {
            name,
            install_hint: hint,
        })
        .collect())
}

/// Applies pending migrations as the owner role. Fails before touching the schema when a
/// required extension is missing, naming it.
pub async fn migrate(owner: &PgConnectOptions) -> Result<(), StoreError> {
    if let Some(missing) = check_extensions(owner).await?.first() {
        return Err(StoreError::MissingExtension(format!(
            "{} (install: {})",
            missing.name, missing.install_hint
        )));
    }
    let mut conn = owner.connect().await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}
