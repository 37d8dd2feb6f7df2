//! The throw-away database the benchmarked server runs on: created empty with a random
//! name on the test PostgreSQL server, dropped (with `FORCE`) at the end.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one benchmark run.
pub struct BenchDb {
    /// URL of the maintenance database the benchmark connects to for CREATE/DROP.
    server_url: String,
    pub name: String,
    /// URL of the new database, given to the server as `DATABASE_URL`.
    pub url: String,
}

impl BenchDb {
    /// Reads `PENNY_TEST_DATABASE_URL` (or the default) and creates a fresh database there.
    pub async fn create() -> anyhow::Result<BenchDb> {
        let server_url = std::env::var("PENNY_TEST_DATABASE_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let name = format!("penny_bench_{}_{:x}", std::process::id(), nanos);
        let mut conn = connect(&server_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await?;
        let url = with_database(&server_url, &name);
        Ok(BenchDb {
            server_url,
            name,
            url,
        })
    }

    /// Drops the database, ending any connection still open to it.
    pub async fn drop_it(self) -> anyhow::Result<()> {
        let mut conn = connect(&self.server_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {}", self.name))?;
        conn.close().await?;
        Ok(())
    }

    /// Whether PostgreSQL runs on this machine (and so shares its cores).
    pub fn is_local(&self) -> bool {
        PgConnectOptions::from_str(&self.server_url)
            .map(|o| {
                matches!(o.get_host(), "127.0.0.1" | "localhost" | "::1")
                    || o.get_host().starts_with('/')
            })
            .unwrap_or(false)
    }
}

pub(crate) async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    PgConnectOptions::from_str(url)
        .context("PENNY_TEST_DATABASE_URL is not a valid PostgreSQL URL")?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// `url` with its database path replaced by `name` (user, password, host and query kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    match query {
        Some(q) => format!("{}/{name}?{q}", &base[..path_start]),
        None => format!("{}/{name}", &base[..path_start]),
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(redact("postgres://u:p@h/db"), "postgres://u:***@h/db");
    }
}
