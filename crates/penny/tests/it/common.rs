//! Test harness: a fresh database with a random name per test (dropped afterwards) and
//! the real server started on port 0 against it, called over HTTP like any client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use penny::config::{Config, Source};
use penny::roles::Roles;
use penny::serve::{self, Running};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const ADMIN_PASSWORD: &str = "root-password-1";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0000";

pub fn server_url() -> String {
    std::env::var("PENNY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("PENNY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A database that exists for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("penny_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnectOptions::from_str(&server_url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let opts = PgConnectOptions::from_str(&server_url()).unwrap();
        let url = format!(
            "postgres://{}@{}:{}/{name}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port()
        );
        TestDb { name, url }
    }

    /// A connection as the database owner (superuser in tests), bypassing RLS.
    pub async fn owner(&self) -> sqlx::PgConnection {
        PgConnectOptions::from_str(&self.url)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// `count(*)` of `sql`'s rows (`$1` bound to `arg` when given), as the owner.
    pub async fn count(&self, sql: &str, arg: Option<&str>) -> i64 {
        let mut owner = self.owner().await;
        let query = format!("SELECT count(*) FROM ({sql}) AS counted");
        let mut q = sqlx::query_scalar(&query);
        if let Some(arg) = arg {
            q = q.bind(arg);
        }
        q.fetch_one(&mut owner).await.unwrap()
    }

    /// One bigint from `sql` with one text argument, as the owner (0 for NULL).
    pub async fn scalar_i64(&self, sql: &str, arg: &str) -> i64 {
        let mut owner = self.owner().await;
        let value: Option<i64> = sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_one(&mut owner)
            .await
            .unwrap();
        value.unwrap_or(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = PgConnectOptions::from_str(&server_url())
                    .unwrap()
                    .connect()
                    .await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub running: Option<Running>,
    pub db: TestDb,
    pub data_dir: PathBuf,
}

pub fn base_env(db: &TestDb, data_dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("HOST", "127.0.0.1"),
        ("JWT_SECRET", JWT_SECRET),
        ("PENNY_ADMIN_EMAIL", ADMIN_EMAIL),
        ("PENNY_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("PENNY_DATA_DIR", data_dir.to_str().unwrap()),
        ("DATABASE_MAX_CONNECTIONS", "4"),
        // The venv scripts/setup.sh makes; no warm pool unless a test asks for one.
        ("SANDBOX_VENV", &sandbox_venv()),
        ("SANDBOX_POOL_SIZE", "0"),
        ("EMBEDDING_MODEL_DIR", &embedding_model_dir()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Configuration that puts objects on the test S3 server (`scripts/setup-s3.sh --start`).
pub fn s3_env() -> Vec<(&'static str, String)> {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    vec![
        (
            "S3_ENDPOINT",
            var("PENNY_TEST_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ),
        (
            "S3_ACCESS_KEY_ID",
            var("PENNY_TEST_S3_ACCESS_KEY_ID", "penny-test"),
        ),
        (
            "S3_SECRET_ACCESS_KEY",
            var("PENNY_TEST_S3_SECRET_ACCESS_KEY", "penny-test-secret"),
        ),
    ]
}

/// The sandbox venv of this checkout (`PENNY_SANDBOX_VENV` overrides).
pub fn sandbox_venv() -> String {
    std::env::var("PENNY_SANDBOX_VENV").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../.penny/sandbox/venv").to_string()
    })
}

/// The embedding model of this checkout (`PENNY_EMBEDDING_MODEL_DIR` overrides).
pub fn embedding_model_dir() -> String {
    std::env::var("PENNY_EMBEDDING_MODEL_DIR").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.penny/models/all-MiniLM-L6-v2"
        )
        .to_string()
    })
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("penny-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// Starts the server with extra or overriding configuration variables.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let db = TestDb::create().await;
        TestApp::spawn_on(db, overrides).await
    }

    pub async fn spawn_on(db: TestDb, overrides: &[(&str, &str)]) -> TestApp {
        let data_dir = temp_dir("data");
        let mut vars = base_env(&db, &data_dir);
        vars.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let cfg = Config::load(&Source::from_pairs(vars).unwrap()).unwrap();
        let running = serve::start(&cfg, &Roles::new(vec![]), Some(0))
            .await
            .unwrap();
        TestApp {
            addr: running.addr,
            http: reqwest::Client::new(),
            running: Some(running),
            db,
            data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    /// Logs in and returns the whole token response.
    pub async fn login(&self, email: &str, password: &str, tenant: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password, "tenant": tenant}))
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, email: &str, password: &str, tenant: &str) -> String {
        let res = self.login(email, password, tenant).await;
        assert_eq!(res.status(), 200, "login of {email} failed");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn root_token(&self) -> String {
        self.token(ADMIN_EMAIL, ADMIN_PASSWORD, "default").await
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, token, path, body).await
    }

    /// Creates a tenant with an admin (password `<slug>-admin-pw`) and returns the admin's token.
    pub async fn tenant_with_admin(&self, root: &str, slug: &str) -> String {
        let email = format!("admin@{slug}.example");
        let pw = format!("{slug}-admin-pw");
        let res = self
            .post(
                root,
                "/api/v1/tenants",
                json!({"name": slug, "slug": slug, "admin_email": email, "admin_password": pw}),
            )
            .await;
        assert_eq!(res.status(), 201);
        self.token(&email, &pw, slug).await
    }

    /// Creates a user with `role` in the caller's tenant; returns (user id, token).
    pub async fn user_with_role(&self, admin: &str, tenant: &str, role: &str) -> (String, String) {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let res = self
            .post(
                admin,
                "/api/v1/users",
                json!({"email": email, "role": role, "password": "a-good-password"}),
            )
            .await;
        assert_eq!(res.status(), 201, "creating {role}");
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, self.token(&email, "a-good-password", tenant).await)
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// Reads server-sent events from a streaming response.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl SseReader {
    pub fn new(res: reqwest::Response) -> SseReader {
        assert_eq!(res.status(), 200, "SSE answer");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseReader {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped); `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Sse> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(Sse {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), self.body.next())
                .await
                .expect("an SSE event within 30 s")?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    }

    /// Events up to and including the first whose type is one of `until`.
    pub async fn until(&mut self, until: &[&str]) -> Vec<Sse> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            let stop = until.contains(&e.event.as_str());
            out.push(e);
            if stop {
                return out;
            }
        }
        panic!("stream ended before {until:?}: {out:?}");
    }
}

/// The text of every `message.delta` in `events`, in order.
pub fn streamed(events: &[Sse]) -> String {
    events
        .iter()
        .filter(|e| e.event == "message.delta")
        .map(|e| e.data["text"].as_str().unwrap().to_string())
        .collect()
}

/// How many tokens of the fake provider's echo `text` holds: each token is one word while
/// the message is shorter than the tokens asked for. Deltas are counted through their text,
/// since a busy event writer may merge a message's queued deltas into one.
pub fn tokens_in(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Asserts each event follows the one before: the next seq, or a `message.text` whose
/// `fromSeq` says it stands in for the seqs between (a run's deltas that were not stored).
pub fn assert_follows(events: &[Sse]) {
    for pair in events.windows(2) {
        let (before, after) = (pair[0].id.unwrap(), pair[1].id.unwrap());
        let stands_in = pair[1].event == "message.text"
            && pair[1].data["fromSeq"]
                .as_i64()
                .is_some_and(|f| f <= before + 1)
            && after > before;
        assert!(
            after == before + 1 || stands_in,
            "{:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// Asserts seqs are present, strictly increasing by one.
pub fn assert_contiguous(events: &[Sse]) {
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].id.unwrap(),
            pair[0].id.unwrap() + 1,
            "{:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
}
