//! `penny doctor`: checks each dependency, prints what is wrong and how to fix it, and
//! exits non-zero when something required is missing.

use std::time::Duration;

use penny_limits::{Limiter, RedisLimiter};
use sqlx::{ConnectOptions, Connection};

use crate::config::{Config, Environment};
use crate::database::Database;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    name: String,
    message: String,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, level: Level, name: impl Into<String>, message: impl Into<String>) {
        self.0.push(Check {
            level,
            name: name.into(),
            message: message.into(),
        });
    }
}

/// Runs every check, prints the report, and returns whether nothing required failed.
pub async fn run(cfg: &Config) -> bool {
    let mut r = Report::default();
    let mode = match cfg.env {
        Environment::Production => "production",
        Environment::Development => "development",
    };
    r.add(
        Level::Ok,
        "config",
        format!(
            "{mode} mode, port {}, data folder {}",
            cfg.port,
            cfg.data_dir.display()
        ),
    );
    database(cfg, &mut r).await;
    redis(cfg, &mut r).await;
    objects(cfg, &mut r).await;
    sandbox(cfg, &mut r).await;
    if cfg.jwt_secret.is_none() {
        r.add(
            Level::Warn,
            "jwt secret",
            "JWT_SECRET unset: a generated secret in the data folder is used; \
            set JWT_SECRET (32+ random characters) when running several instances",
        );
    }
    println!("penny doctor");
    for c in &r.0 {
        let mark = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        println!("  [{mark}] {:<20} {}", c.name, c.message);
    }
    let failed = r.0.iter().filter(|c| c.level == Level::Fail).count();
    if failed == 0 {
        println!("everything required is in place");
    } else {
        println!("{failed} required check(s) failed");
    }
    failed == 0
}

async fn database(cfg: &Config, r: &mut Report) {
    let opened = tokio::time::timeout(Duration::from_secs(90), Database::open(cfg)).await;
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            let fix = if cfg.database_url.is_some() {
                "check DATABASE_URL and that the server is running"
            } else {
                "install PostgreSQL 15+ (`make setup`), or set DATABASE_URL"
            };
            return r.add(Level::Fail, "database", format!("{e:#} — fix: {fix}"));
        }
        Err(_) => return r.add(Level::Fail, "database", "no answer within 90 s"),
    };
    let source = if cfg.database_url.is_some() {
        "DATABASE_URL"
    } else {
        "embedded cluster"
    };
    match db.owner.connect().await {
        Ok(mut conn) => {
            let version: Result<(i32, String, bool), _> = sqlx::query_as(
                "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
                 (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)",
            )
            .fetch_one(&mut conn)
            .await;
            match version {
                Ok((num, text, _)) if num < 150000 => r.add(
                    Level::Fail,
                    "database",
                    format!("PostgreSQL {text} ({source}) — fix: PENNY needs 15 or newer"),
                ),
                Ok((_, text, privileged)) => {
                    r.add(
                        Level::Ok,
                        "database",
                        format!("PostgreSQL {text} ({source})"),
                    );
                    if !privileged {
                        r.add(Level::Warn, "database role", "the DATABASE_URL role is neither superuser nor BYPASSRLS: \
                            credential lookups (API keys, refresh tokens) need a migration owner that may read every tenant");
                    }
                }
                Err(e) => r.add(Level::Fail, "database", format!("query failed: {e}")),
            }
            first_run(&mut conn, r).await;
            let _ = conn.close().await;
            match penny_store::check_extensions(&db.owner).await {
                Ok(missing) => {
                    for (name, _) in penny_store::REQUIRED_EXTENSIONS {
                        match missing.iter().find(|m| m.name == name) {
                            Some(m) => r.add(
                                Level::Fail,
                                format!("extension {name}"),
                                format!(
                                    "not available on this PostgreSQL — fix: install {}",
                                    m.install_hint
                                ),
                            ),
                            None => r.add(Level::Ok, format!("extension {name}"), "available"),
                        }
                    }
                }
                Err(e) => r.add(
                    Level::Fail,
                    "extensions",
                    format!("could not list extensions: {e}"),
                ),
            }
        }
        Err(e) => r.add(
            Level::Fail,
            "database",
            format!("cannot connect ({source}): {e}"),
        ),
    }
    db.close().await;
}

/// Whether tenant `default` has its first admin yet (read as that tenant, under its RLS).
async fn first_run(conn: &mut sqlx::PgConnection, r: &mut Report) {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let state: Result<Option<bool>, BoxError> = async {
        let migrated: bool = sqlx::query_scalar("SELECT to_regclass('public.tenants') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
        if !migrated {
            return Ok(None);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let tenant: Option<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'default'")
                .fetch_optional(&mut *tx)
                .await?;
        let Some(tenant) = tenant else {
            return Ok(None);
        };
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?;
        let admin = penny_store::setup::has_admin(&mut tx).await?;
        tx.rollback().await?;
        Ok(Some(admin))
    }
    .await;
    match state {
        Ok(None) => r.add(
            Level::Ok,
            "first run",
            "not started yet: the first `penny serve` creates tenant `default`",
        ),
        Ok(Some(true)) => r.add(Level::Ok, "first run", "tenant `default` has its admin"),
        Ok(Some(false)) => r.add(
            Level::Warn,
            "first run",
            "set-up pending: tenant `default` has no admin yet — open the set-up link \
             `penny serve` prints, or set PENNY_ADMIN_EMAIL/PENNY_ADMIN_PASSWORD and restart",
        ),
        Err(e) => r.add(Level::Warn, "first run", format!("could not tell: {e}")),
    }
}

async fn redis(cfg: &Config, r: &mut Report) {
    let Some(url) = &cfg.redis_url else {
        return r.add(
            Level::Ok,
            "redis",
            "not configured: in-process bus and rate limits (one instance)",
        );
    };
    let ping = async {
        let l = RedisLimiter::connect(url, &cfg.redis_prefix).await?;
        l.ping().await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(())) => r.add(Level::Ok, "redis", "answers PING"),
        Ok(Err(e)) => r.add(
            Level::Fail,
            "redis",
            format!("{e} — fix: start Redis or correct REDIS_URL"),
        ),
        Err(_) => r.add(
            Level::Fail,
            "redis",
            "no answer within 5 s — fix: start Redis or correct REDIS_URL",
        ),
    }
}

async fn objects(cfg: &Config, r: &mut Report) {
    let checked = async {
        let objects = penny_objects::Objects::new(&cfg.objects)?;
        tokio::time::timeout(Duration::from_secs(10), objects.check())
            .await
            .unwrap_or_else(|_| {
                Err(penny_objects::ObjectsError::Config {
                    location: cfg.objects.location(),
                    reason: "no answer within 10 s".into(),
                })
            })
    };
    match checked.await {
        Ok(()) => r.add(
            Level::Ok,
            "object store",
            format!("{}: all four buckets usable", cfg.objects.location()),
        ),
        Err(e) => r.add(
            Level::Fail,
            "object store",
            format!(
                "{e} — fix: create the penny-* buckets and check R2_*/S3_* (or make the \
                 data folder writable)"
            ),
        ),
    }
}

async fn sandbox(cfg: &Config, r: &mut Report) {
    let config = cfg.sandbox.clone();
    let checked = tokio::task::spawn_blocking(move || penny_sandbox::Sandbox::check(&config)).await;
    match checked {
        Ok(Ok(())) => r.add(
            Level::Ok,
            "sandbox",
            format!(
                "bubblewrap runs Python from {} under a seccomp filter",
                cfg.sandbox.venv.display()
            ),
        ),
        Ok(Err(e)) => r.add(
            Level::Warn,
            "sandbox",
            format!("{e} — python_execute will refuse to run until this is fixed"),
        ),
        Err(e) => r.add(Level::Warn, "sandbox", format!("check failed: {e}")),
    }
    r.add(Level::Ok, "sandbox budget", penny_sandbox::budget_mode());
}
