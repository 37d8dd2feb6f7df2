//! Typed configuration, loaded once at start from (lowest to highest precedence) an
//! optional TOML file, the environment, and `NAME_FILE` files for secrets. A bad or missing
//! value stops start-up with one line naming the variable and what is expected.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use penny_objects::ObjectsConfig;
use penny_queue::QueueConfig;
use penny_sandbox::SandboxConfig;

/// Variables that may also be read from a file named by `NAME_FILE` (Docker/K8s secrets).
const SECRETS: [&str; 7] = [
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "PENNY_ADMIN_PASSWORD",
    "PENNY_ENCRYPTION_KEY",
    "R2_SECRET_ACCESS_KEY",
    "S3_SECRET_ACCESS_KEY",
];

/// The seed's development placeholder; never acceptable in production.
const DEV_PLACEHOLDER_SECRET: &str = "dev-secret-change-in-production";

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub var: String,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config error: {} {}", self.var, self.expected)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// `OPENAI_API_KEY`/`OPENAI_BASE_URL`/`OPENAI_MODEL`, `ANTHROPIC_API_KEY`/…
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderShortcut {
    pub api_key: String,
    pub base_url: String,
    pub model: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub host: String,
    pub port: u16,
    pub ws_port: u16,
    /// Where PENNY keeps its own state (embedded cluster, generated secrets, objects).
    pub data_dir: PathBuf,
    /// `None`: run the embedded PostgreSQL cluster under `data_dir/pg`.
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    /// Directory with `initdb`/`pg_ctl` for the embedded cluster (auto-detected if unset).
    pub pg_bin_dir: Option<PathBuf>,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// `None` in development: a random secret is generated and kept in `data_dir`.
    pub jwt_secret: Option<String>,
    /// 32 bytes, base64, sealing upstream API keys; generated into `data_dir` in development.
    pub encryption_key: Option<String>,
    /// Env shortcuts that add a model to tenant `default` at start.
    pub openai: Option<ProviderShortcut>,
    pub anthropic: Option<ProviderShortcut>,
    /// How long a run's lease lasts; a run of a dead instance is failed after it.
    pub run_lease: Duration,
    /// Deltas of a run closer together than this are sent as one event (0: each alone).
    pub delta_frame: Duration,
    /// `RUN_MAX_SECS`: the longest a run may take in all.
    pub run_max: Duration,
    /// `RUN_MAX_OUTPUT_BYTES`: the most an answer may grow to.
    pub run_max_output_bytes: usize,
    /// `TENANT_MAX_RUNS`: answers one tenant may have running at once per instance.
    pub tenant_max_runs: usize,
    /// Event writer tasks of this process (each stores one batch of events at a time).
    pub event_writers: usize,
    /// How often the scheduler deletes objects whose rows are gone.
    pub object_sweep_every: Duration,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    /// A login's absolute lifetime, however often it is refreshed.
    pub login_max_age_days: i64,
    pub frontend_urls: Vec<String>,
    /// `R2_*`/`S3_*` when set, else the folder `data_dir/objects`.
    pub objects: ObjectsConfig,
    /// The Python sandbox (venv under `data_dir/sandbox/venv` unless `SANDBOX_VENV`).
    pub sandbox: SandboxConfig,
    /// Largest file `POST /api/v1/files` accepts.
    pub upload_limit_bytes: usize,
    /// The `tools` queue: concurrency per worker process, jobs/s across all (None = off),
    /// retention, and the lease after which a dead worker's job runs again.
    pub tools_queue: QueueConfig,
    /// The `ingest` queue (documents into collections): its own, so a big PDF never
    /// holds up a chat's tool call.
    pub ingest_queue: QueueConfig,
    /// The local sentence-embedding model's folder (`EMBEDDING_MODEL_DIR`, by default
    /// `data_dir/models/all-MiniLM-L6-v2`, which the set-up script fills).
    pub embedding_model_dir: PathBuf,
    pub admin_email: String,
    pub admin_password: Option<String>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub rate_limit_per_minute: u64,
    pub rate_limit_ip_per_minute: u64,
    pub login_max_failures: u64,
    pub login_max_failures_per_ip: u64,
    pub login_max_failures_per_account: u64,
    pub auth_max_failures_per_ip: u64,
    pub login_window: Duration,
    pub trust_proxy: penny_api::TrustProxy,
    /// `COOKIE_SECURE`: mark the refresh cookie `Secure` (default true).
    pub cookie_secure: bool,
    /// Event streams (WebSockets, SSE) one user may hold open per instance.
    pub max_streams_per_user: usize,
    /// What server-side requests (model providers…) may reach besides public addresses:
    /// `OUTBOUND_ALLOW`, by default the loopback addresses in development and nothing in
    /// production.
    pub outbound: penny_outbound::Policy,
}

/// Raw `NAME → value` pairs, before typing.
#[derive(Debug, Default, Clone)]
pub struct Source(HashMap<String, String>);

impl Source {
    /// The process environment over an optional TOML file (`PENNY_CONFIG`, or
    /// `./penny.toml` when present), with `NAME_FILE` secrets resolved.
    pub fn from_process() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = env
            .get("PENNY_CONFIG")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("penny.toml")).filter(|p| p.exists()));
        let mut vars = match file {
            Some(path) => read_toml(&path)?,
            None => HashMap::new(),
        };
        vars.extend(env);
        Source::resolve_files(vars)
    }

    /// From explicit pairs (tests, tools); `NAME_FILE` secrets are resolved too.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Source::resolve_files(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    fn resolve_files(mut vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        for name in SECRETS {
            let file_var = format!("{name}_FILE");
            if let Some(path) = vars.get(&file_var).filter(|p| !p.is_empty()).cloned() {
                let value = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                    var: file_var.clone(),
                    expected: format!("must name a readable file ({path}: {e})"),
                })?;
                vars.insert(
                    name.to_string(),
                    value.trim_end_matches(['\n', '\r']).to_string(),
                );
            }
        }
        Ok(Source(vars))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn parse<T: FromStr>(&self, name: &str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| ConfigError {
                var: name.to_string(),
                expected: format!("must be {expected}, got {raw:?}"),
            }),
        }
    }
}

/// Reads `key = value` pairs; keys may be written as in the environment (`PORT`) or in
/// lower case (`port`).
fn read_toml(path: &std::path::Path) -> Result<HashMap<String, String>, ConfigError> {
    let err = |expected: String| ConfigError {
        var: "PENNY_CONFIG".into(),
        expected,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(format!(
            "must name a readable file ({}: {e})",
            path.display()
        ))
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| err(format!("must be valid TOML ({}: {e})", path.display())))?;
    let mut out = HashMap::new();
    for (k, v) in table {
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(err(format!(
                    "key `{k}` in {} must be a string, number or boolean",
                    path.display()
                )))
            }
        };
        out.insert(k.to_ascii_uppercase(), value);
    }
    Ok(out)
}

impl Config {
    pub fn load(src: &Source) -> Result<Self, ConfigError> {
        let env = match src.get("PENNY_ENV").unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                return Err(ConfigError {
                    var: "PENNY_ENV".into(),
                    expected: format!("must be development or production, got {other:?}"),
                })
            }
        };
        let jwt_secret = src.get("JWT_SECRET").map(str::to_string);
        if env == Environment::Production {
            match &jwt_secret {
                None => {
                    return Err(ConfigError {
                        var: "JWT_SECRET".into(),
                        expected: "is required when PENNY_ENV=production (32+ random characters)".into(),
                    })
                }
                Some(s) if s.len() < 32 || s == DEV_PLACEHOLDER_SECRET => {
                    return Err(ConfigError {
                        var: "JWT_SECRET".into(),
                        expected: "is too weak for production: use 32+ random characters (e.g. `openssl rand -hex 32`)"
                            .into(),
                    })
                }
                Some(_) => {}
            }
        }
        let encryption_key = src.get("PENNY_ENCRYPTION_KEY").map(str::to_string);
        match &encryption_key {
            Some(k) if penny_auth::SealingKey::from_base64(k).is_err() => {
                return Err(ConfigError {
                    var: "PENNY_ENCRYPTION_KEY".into(),
                    expected: "must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
                        .into(),
                })
            }
            None if env == Environment::Production => {
                return Err(ConfigError {
                    var: "PENNY_ENCRYPTION_KEY".into(),
                    expected: "is required when PENNY_ENV=production (`openssl rand -base64 32`)"
                        .into(),
                })
            }
            _ => {}
        }
        let database_url = src.get("DATABASE_URL").map(str::to_string);
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError {
                    var: "DATABASE_URL".into(),
                    expected: "must be a postgres:// or postgresql:// URL".into(),
                });
            }
        }
        let redis_url = src.get("REDIS_URL").map(str::to_string);
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError {
                    var: "REDIS_URL".into(),
                    expected: "must be a redis:// or rediss:// URL".into(),
                });
            }
        }
        let log_format = match src.get("LOG_FORMAT").unwrap_or("json") {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(ConfigError {
                    var: "LOG_FORMAT".into(),
                    expected: format!("must be json or pretty, got {other:?}"),
                })
            }
        };
        let data_dir = PathBuf::from(src.get("PENNY_DATA_DIR").unwrap_or(".penny"));
        let frontend_urls = src
            .get("FRONTEND_URL")
            .map(|s| {
                s.split(',')
                    .map(|u| u.trim().trim_end_matches('/').to_string())
                    .filter(|u| !u.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let port_msg = "a port number (0-65535)";
        Ok(Config {
            env,
            host: src.get("HOST").unwrap_or("0.0.0.0").to_string(),
            port: src.parse("PORT", 3001, port_msg)?,
            ws_port: src.parse("WS_PORT", 3003, port_msg)?,
            data_dir: data_dir.clone(),
            database_url,
            database_max_connections: src.parse(
                "DATABASE_MAX_CONNECTIONS",
                default_pool_size(),
                "a positive number",
            )?,
            pg_bin_dir: src.get("PENNY_PG_BIN").map(PathBuf::from),
            redis_url,
            redis_prefix: src.get("REDIS_PREFIX").unwrap_or("penny").to_string(),
            jwt_secret,
            encryption_key,
            openai: shortcut(src, "OPENAI", "https://api.openai.com/v1", "gpt-4o-mini"),
            anthropic: shortcut(
                src,
                "ANTHROPIC",
                "https://api.anthropic.com/v1",
                "claude-3-5-haiku-latest",
            ),
            run_lease: Duration::from_secs(
                src.parse("RUN_LEASE_SECS", 15, "a number of seconds")?
                    .max(1),
            ),
            run_max: Duration::from_secs(
                src.parse("RUN_MAX_SECS", 600, "a number of seconds")?
                    .max(1),
            ),
            tenant_max_runs: src.parse("TENANT_MAX_RUNS", 32, "a number of runs")?.max(1),
            run_max_output_bytes: src
                .parse("RUN_MAX_OUTPUT_BYTES", 1024 * 1024, "a number of bytes")?
                .max(1024),
            delta_frame: Duration::from_millis(src.parse(
                "DELTA_FRAME_MS",
                16,
                "a number of milliseconds",
            )?),
            event_writers: src
                .parse("EVENT_WRITERS", 2, "a number of writer tasks")?
                .max(1),
            object_sweep_every: Duration::from_secs(
                src.parse("OBJECT_SWEEP_SECS", 60, "a number of seconds")?
                    .max(1),
            ),
            access_ttl_secs: src.parse("JWT_ACCESS_TTL_SECS", 900, "a number of seconds")?,
            refresh_ttl_days: src.parse("REFRESH_TTL_DAYS", 30, "a number of days")?,
            login_max_age_days: src.parse("LOGIN_MAX_AGE_DAYS", 30, "a number of days")?,
            frontend_urls,
            objects: objects(src, &data_dir)?,
            sandbox: sandbox(src, &data_dir)?,
            upload_limit_bytes: src.parse(
                "UPLOAD_LIMIT_BYTES",
                25 * 1024 * 1024,
                "a number of bytes",
            )?,
            tools_queue: tools_queue(src)?,
            ingest_queue: ingest_queue(src)?,
            embedding_model_dir: src
                .get("EMBEDDING_MODEL_DIR")
                .or(src.get("PENNY_EMBEDDING_MODEL_DIR"))
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("models/all-MiniLM-L6-v2")),
            admin_email: src
                .get("PENNY_ADMIN_EMAIL")
                .unwrap_or("admin@penny.local")
                .to_string(),
            admin_password: src.get("PENNY_ADMIN_PASSWORD").map(str::to_string),
            log_format,
            log_filter: src
                .get("RUST_LOG")
                .or(src.get("LOG_LEVEL"))
                .unwrap_or("info")
                .to_string(),
            request_timeout: Duration::from_secs(src.parse(
                "REQUEST_TIMEOUT_SECS",
                30,
                "a number of seconds",
            )?),
            body_limit_bytes: src.parse("BODY_LIMIT_BYTES", 1024 * 1024, "a number of bytes")?,
            rate_limit_per_minute: src.parse("RATE_LIMIT_PER_MINUTE", 600, "a positive number")?,
            rate_limit_ip_per_minute: src.parse(
                "RATE_LIMIT_IP_PER_MINUTE",
                300,
                "a positive number",
            )?,
            login_max_failures: src.parse("LOGIN_MAX_FAILURES", 5, "a positive number")?,
            login_max_failures_per_ip: src.parse(
                "LOGIN_MAX_FAILURES_PER_IP",
                30,
                "a positive number",
            )?,
            login_max_failures_per_account: src.parse(
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                50,
                "a positive number",
            )?,
            auth_max_failures_per_ip: src.parse(
                "AUTH_MAX_FAILURES_PER_IP",
                60,
                "a positive number",
            )?,
            login_window: Duration::from_secs(src.parse(
                "LOGIN_LOCKOUT_SECS",
                900,
                "a number of seconds",
            )?),
            cookie_secure: src.parse("COOKIE_SECURE", true, "true or false")?,
            max_streams_per_user: src
                .parse("MAX_STREAMS_PER_USER", 16, "a number of streams")?
                .max(1),
            trust_proxy: match src.get("TRUST_PROXY") {
                Some(raw) => penny_api::TrustProxy::parse(raw).map_err(|e| ConfigError {
                    var: "TRUST_PROXY".into(),
                    expected: format!("must be {e}, got {raw:?}"),
                })?,
                None => penny_api::TrustProxy::None,
            },
            outbound: match src.get("OUTBOUND_ALLOW") {
                Some(spec) => penny_outbound::Policy::parse(spec).map_err(|e| ConfigError {
                    var: "OUTBOUND_ALLOW".into(),
                    expected: e.to_string(),
                })?,
                None if env == Environment::Production => penny_outbound::Policy::strict(),
                None => penny_outbound::Policy::loopback(),
            },
        })
    }
}

fn shortcut(src: &Source, p: &str, base_url: &str, model: &str) -> Option<ProviderShortcut> {
    src.get(&format!("{p}_API_KEY"))
        .map(|key| ProviderShortcut {
            api_key: key.to_string(),
            base_url: src
                .get(&format!("{p}_BASE_URL"))
                .unwrap_or(base_url)
                .trim_end_matches('/')
                .to_string(),
            model: src.get(&format!("{p}_MODEL")).unwrap_or(model).to_string(),
        })
}

/// `R2_*` (the seed's names) or `S3_*`; all-or-nothing so a half-set store fails loudly.
fn objects(src: &Source, data_dir: &Path) -> Result<ObjectsConfig, ConfigError> {
    for p in ["R2", "S3"] {
        let endpoint = src.get(&format!("{p}_ENDPOINT"));
        let key = src
            .get(&format!("{p}_ACCESS_KEY_ID"))
            .or(src.get(&format!("{p}_ACCESS_KEY")));
        let secret = src.get(&format!("{p}_SECRET_ACCESS_KEY"));
        if endpoint.is_none() && key.is_none() && secret.is_none() {
            continue;
        }
        let need = |v: Option<&str>, name: &str| {
            v.map(str::to_string).ok_or_else(|| ConfigError {
                var: format!("{p}_{name}"),
                expected: format!("is required when other {p}_* variables are set"),
            })
        };
        let endpoint = need(endpoint, "ENDPOINT")?;
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(ConfigError {
                var: format!("{p}_ENDPOINT"),
                expected: "must be an http:// or https:// URL".into(),
            });
        }
        let default_region = if p == "R2" {
            ObjectsConfig::R2_REGION
        } else {
            ObjectsConfig::S3_REGION
        };
        return Ok(ObjectsConfig::S3 {
            allow_http: endpoint.starts_with("http://"),
            endpoint,
            access_key_id: need(key, "ACCESS_KEY_ID")?,
            secret_access_key: need(secret, "SECRET_ACCESS_KEY")?,
            region: src
                .get(&format!("{p}_REGION"))
                .unwrap_or(default_region)
                .to_string(),
            bucket_prefix: src.get(&format!("{p}_BUCKET_PREFIX")).map(str::to_string),
        });
    }
    Ok(ObjectsConfig::Local {
        root: src
            .get("OBJECTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("objects")),
    })
}

fn sandbox(src: &Source, data_dir: &Path) -> Result<SandboxConfig, ConfigError> {
    let mut c = SandboxConfig {
        venv: src
            .get("SANDBOX_VENV")
            .or(src.get("PENNY_SANDBOX_VENV"))
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("sandbox/venv")),
        pool_size: src.parse("SANDBOX_POOL_SIZE", 2, "a number of sandboxes")?,
        ..SandboxConfig::default()
    };
    if let Some(bwrap) = src.get("SANDBOX_BWRAP") {
        c.bwrap = PathBuf::from(bwrap);
    }
    c.limits.memory_bytes = src.parse(
        "SANDBOX_MEMORY_BYTES",
        c.limits.memory_bytes,
        "a number of bytes",
    )?;
    c.limits.run_memory_bytes = src.parse(
        "SANDBOX_RUN_MEMORY_BYTES",
        c.limits.run_memory_bytes,
        "a number of bytes",
    )?;
    Ok(c)
}

fn tools_queue(src: &Source) -> Result<QueueConfig, ConfigError> {
    let mut q = QueueConfig::new("tools");
    q.concurrency = src
        .parse("TOOLS_CONCURRENCY", 5, "a positive number")?
        .max(1);
    let rate: f64 = src.parse(
        "TOOLS_RATE_PER_SEC",
        10.0,
        "a number of jobs per second (0: off)",
    )?;
    q.rate_per_sec = (rate > 0.0).then_some(rate);
    let per_tenant: usize = src.parse(
        "TENANT_MAX_JOBS",
        QueueConfig::DEFAULT_PER_TENANT,
        "a number of jobs (0: no cap)",
    )?;
    q.per_tenant = (per_tenant > 0).then_some(per_tenant);
    q.keep_completed = src.parse("QUEUE_KEEP_COMPLETED", 100, "a number of jobs")?;
    q.keep_failed = src.parse("QUEUE_KEEP_FAILED", 1000, "a number of jobs")?;
    q.lease = Duration::from_secs(
        src.parse("QUEUE_LEASE_SECS", 30, "a number of seconds")?
            .max(1),
    );
    Ok(q)
}

fn ingest_queue(src: &Source) -> Result<QueueConfig, ConfigError> {
    let mut q = QueueConfig::new(penny_knowledge::ingest::QUEUE);
    // Embedding keeps a core busy: two documents at a time on a worker by default.
    q.concurrency = src
        .parse("INGEST_CONCURRENCY", 2, "a positive number")?
        .max(1);
    q.keep_completed = src.parse("QUEUE_KEEP_COMPLETED", 100, "a number of jobs")?;
    q.keep_failed = src.parse("QUEUE_KEEP_FAILED", 1000, "a number of jobs")?;
    q.lease = Duration::from_secs(
        src.parse("QUEUE_LEASE_SECS", 30, "a number of seconds")?
            .max(1),
    );
    Ok(q)
}

/// The database pool's default size: four connections per core, 8 to 32. PostgreSQL runs
/// on the same cores, and more connections than it can serve only queue inside it: on 2
/// cores, `make bench-api` listed users at 6,488 req/s with 4 connections, 6,324 with 8
/// and 5,955 with 16 (64 clients, same run); 8 keeps room for the event writers, the
/// queue and long tool jobs beside requests.
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 4).unwrap_or(32).clamp(8, 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(&Source::from_pairs(pairs.iter().copied())?)
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = load(&[]).unwrap();
        assert_eq!(c.port, 3001);
        assert_eq!(c.ws_port, 3003);
        assert!(c.database_url.is_none() && c.redis_url.is_none());
        assert_eq!(c.env, Environment::Development);
    }

    #[test]
    fn bad_value_names_the_variable() {
        let e = load(&[("PORT", "http")]).unwrap_err();
        assert_eq!(e.var, "PORT");
        assert!(e.to_string().contains("PORT must be a port number"), "{e}");
        assert_eq!(
            load(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            load(&[("TRUST_PROXY", "maybe")]).unwrap_err().var,
            "TRUST_PROXY"
        );
        assert_eq!(
            load(&[("TRUST_PROXY", "2")]).unwrap().trust_proxy,
            penny_api::TrustProxy::Hops(2)
        );
        assert!(matches!(
            load(&[("TRUST_PROXY", "10.0.0.0/8,192.0.2.1")]).unwrap().trust_proxy,
            penny_api::TrustProxy::Networks(n) if n.len() == 2
        ));
        for var in ["DELTA_FRAME_MS", "EVENT_WRITERS"] {
            assert_eq!(load(&[(var, "-1")]).unwrap_err().var, var);
        }
    }

    #[test]
    fn streaming_settings_default_and_read() {
        let c = load(&[]).unwrap();
        assert_eq!(c.delta_frame, Duration::from_millis(16));
        assert_eq!(c.event_writers, 2);
        let c = load(&[("DELTA_FRAME_MS", "0"), ("EVENT_WRITERS", "0")]).unwrap();
        assert_eq!(c.delta_frame, Duration::ZERO);
        assert_eq!(c.event_writers, 1, "at least one writer");
    }

    #[test]
    fn production_refuses_weak_or_missing_jwt_secret() {
        assert_eq!(
            load(&[("PENNY_ENV", "production")]).unwrap_err().var,
            "JWT_SECRET"
        );
        let weak = [
            ("PENNY_ENV", "production"),
            ("JWT_SECRET", "dev-secret-change-in-production"),
        ];
        assert_eq!(load(&weak).unwrap_err().var, "JWT_SECRET");
        let short = [("PENNY_ENV", "production"), ("JWT_SECRET", "short")];
        assert_eq!(load(&short).unwrap_err().var, "JWT_SECRET");
        let strong = [
            ("PENNY_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            (
                "PENNY_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ];
        assert!(load(&strong).is_ok());
        // Production also needs the key that seals upstream API keys.
        assert_eq!(load(&strong[..2]).unwrap_err().var, "PENNY_ENCRYPTION_KEY");
        let bad_key = [("PENNY_ENCRYPTION_KEY", "c2hvcnQ=")];
        assert_eq!(load(&bad_key).unwrap_err().var, "PENNY_ENCRYPTION_KEY");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = std::env::temp_dir().join(format!("penny-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("jwt");
        std::fs::write(&f, "from-a-file-from-a-file-from-a-file\n").unwrap();
        let c = load(&[("JWT_SECRET_FILE", f.to_str().unwrap())]).unwrap();
        assert_eq!(
            c.jwt_secret.as_deref(),
            Some("from-a-file-from-a-file-from-a-file")
        );
        assert_eq!(
            load(&[("JWT_SECRET_FILE", "/nonexistent/x")])
                .unwrap_err()
                .var,
            "JWT_SECRET_FILE"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn half_configured_object_store_is_an_error() {
        let e = load(&[("R2_ENDPOINT", "https://r2.example")]).unwrap_err();
        assert_eq!(e.var, "R2_ACCESS_KEY_ID");
    }

    #[test]
    fn toml_file_is_read_with_env_names_or_lower_case() {
        let dir = std::env::temp_dir().join(format!("penny-toml-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("penny.toml");
        std::fs::write(&f, "port = 4000\nLOG_FORMAT = \"pretty\"\n").unwrap();
        let vars = read_toml(&f).unwrap();
        let c = Config::load(&Source::from_pairs(vars).unwrap()).unwrap();
        assert_eq!((c.port, c.log_format), (4000, LogFormat::Pretty));
        std::fs::write(&f, "port = [1]").unwrap();
        assert!(read_toml(&f).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
