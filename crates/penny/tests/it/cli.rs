//! The real `penny` binary, run as an operator would: flags, configuration errors, the
//! `admin` commands, `doctor` and the embedded PostgreSQL default. Each test runs the
//! binary with a clean environment, its own database and its own folders.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

use crate::common::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Longest any one command may take (a first embedded start runs `initdb`).
const TIMEOUT: Duration = Duration::from_secs(120);

/// A folder under /tmp that the embedded cluster's unprivileged user can traverse. On drop,
/// a cluster a failed test left running in `data/` is stopped and the folder removed.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = temp_dir(tag);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        mkdirs(&dir, "data");
        Scratch(dir)
    }

    fn data(&self) -> PathBuf {
        self.0.join("data")
    }

    fn postmaster_pid(&self) -> PathBuf {
        self.data().join("pg/data/postmaster.pid")
    }

    /// `penny <args>` with a clean environment (PATH, HOME, the data folder and `vars`),
    /// run in this folder so no stray `penny.toml` is read; killed if dropped.
    fn penny(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_penny"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.0)
            .env("PENNY_DATA_DIR", self.data())
            .env("RUST_LOG", "warn")
            .envs(vars.iter().copied())
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// `penny admin <cmd>` (split at whitespace) against `db`, with `stdin` as its input.
    async fn admin(&self, db: &TestDb, cmd: &str, stdin: Option<&str>) -> Ran {
        let args: Vec<&str> = ["admin"].into_iter().chain(words(cmd)).collect();
        run(self.penny(&args, &[("DATABASE_URL", &db.url)]), stdin).await
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let pid_file = self.postmaster_pid();
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse().ok());
        if let Some(pid) = pid {
            // Immediate shutdown of the orphaned cluster (pg_ctl refuses to run as root).
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
            for _ in 0..100 {
                if !pid_file.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates `root/rel` and each folder on the way with mode 0755.
fn mkdirs(root: &Path, rel: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in Path::new(rel).components() {
        p.push(part);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p
}

/// A finished command.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Ran {
    /// Asserts success and returns stdout.
    fn ok(self) -> String {
        assert!(self.code == Some(0), "{self:#?}");
        self.out
    }

    /// Asserts failure and returns stderr.
    fn failed(self) -> String {
        assert!(self.code.is_some_and(|c| c != 0), "{self:#?}");
        self.err
    }

    /// The stdout line containing `needle`.
    fn line(&self, needle: &str) -> &str {
        let found = self.out.lines().find(|l| l.contains(needle));
        found.unwrap_or_else(|| panic!("no line with {needle:?} in {self:#?}"))
    }
}

/// `"a b c"` as `["a", "b", "c"]`.
fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

async fn run(mut cmd: Command, stdin: Option<&str>) -> Ran {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawning penny");
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(text.as_bytes()).await.unwrap();
    }
    let out = timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("penny did not finish in time")
        .unwrap();
    Ran {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn version_flag_prints_version() {
    let s = Scratch::new("cli-version");
    let out = run(s.penny(&["--version"], &[]), None).await.ok();
    assert_eq!(out.trim(), format!("penny {VERSION}"));
}

#[tokio::test]
async fn production_refuses_a_weak_jwt_secret() {
    let s = Scratch::new("cli-config");
    let weak = [("PENNY_ENV", "production"), ("JWT_SECRET", "short")];
    let port = [("PORT", "abc")];
    for (vars, name) in [
        (&weak[..], "JWT_SECRET"),
        (&weak[..1], "JWT_SECRET"),
        (&port, "PORT"),
    ] {
        let r = run(s.penny(&["serve"], vars), None).await;
        // Exit code 2 and one line on stderr naming the variable; nothing else.
        let one_line = r.err.lines().count() == 1 && r.err.contains(name);
        let refused = r.code == Some(2) && one_line && r.out.is_empty();
        assert!(refused, "{vars:?}: {r:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_manages_tenants_users_and_keys() {
    let db = TestDb::create().await;
    let s = Scratch::new("cli-admin");
    // A name with a space, so not through `Scratch::admin`; the slug is derived from it.
    let name = ["admin", "create-tenant", "--name", "Beta Team"];
    let out = run(s.penny(&name, &[("DATABASE_URL", &db.url)]), None).await;
    assert!(out.ok().contains("created tenant beta-team (Beta Team)"));
    let cmd = |c: &str| format!("{c} --tenant beta-team --email b@example.com");
    let create = cmd("create-user") + " --role admin --password-stdin";
    let r = s.admin(&db, &create, Some("first-password-1\n")).await;
    assert!(r.ok().contains("created user b@example.com (admin)"));

    let tenants = s.admin(&db, "list-tenants", None).await;
    assert!(tenants.line("beta-team").contains("Beta Team"));
    let users = s.admin(&db, "list-users --tenant beta-team", None).await;
    assert_eq!(words(users.line("b@example.com"))[1], "admin");
    let set_role = cmd("set-role") + " --role viewer";
    s.admin(&db, &set_role, None).await.ok();
    let users = s.admin(&db, "list-users --tenant beta-team", None).await;
    assert_eq!(words(users.line("b@example.com"))[1], "viewer");

    let reset = cmd("reset-password") + " --password-stdin";
    let r = s.admin(&db, &reset, Some("second-password-2\n")).await;
    assert!(r.ok().contains("password of b@example.com reset"));
    let out = s.admin(&db, &cmd("create-api-key"), None).await.ok();
    let key = out.trim().to_string();
    assert!(key.starts_with("pk_") && words(&out).len() == 1, "{out:?}");

    // Mistakes are refused with a message saying what is wrong.
    let bad_role = "create-user --tenant beta-team --email c@example.com --role wizard";
    let err = s.admin(&db, bad_role, None).await.failed();
    let names_the_roles = err.contains("role") && err.contains("admin, manager, creator, viewer");
    assert!(names_the_roles, "{err}");
    let unknown = "create-user --tenant no-such-team --email c@example.com";
    let err = s.admin(&db, unknown, None).await.failed();
    assert!(err.contains("no-such-team"), "{err}");

    // The server sees what the CLI did.
    let app = TestApp::spawn_on(db, &[]).await;
    let login = |password| app.login("b@example.com", password, "beta-team");
    assert_eq!(login("second-password-2").await.status(), 200);
    assert_eq!(login("first-password-1").await.status(), 401);
    let res = app.get(&key, "/api/v1/me").await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    let who = [
        &me["email"],
        &me["role"],
        &me["tenant"]["slug"],
        &me["auth"],
    ];
    let expected = ["b@example.com", "viewer", "beta-team", "api_key"];
    assert_eq!(who, expected, "{me}");
    app.stop().await;
}

/// A fresh database whose audit log holds three CLI-made rows of one tenant, verified
/// intact by `penny admin verify-audit`; returns it with the rows' ids in order.
async fn audited(s: &Scratch) -> (TestDb, Vec<i64>) {
    let db = TestDb::create().await;
    s.admin(&db, "create-tenant --name Audit", None).await.ok();
    for email in ["a1@example.com", "a2@example.com"] {
        let cmd = format!("create-user --tenant audit --email {email}");
        s.admin(&db, &cmd, None).await.ok();
    }
    let out = s.admin(&db, "verify-audit", None).await.ok();
    assert!(out.contains("audit log intact: 3 rows verified"), "{out}");
    let mut conn = db.owner().await;
    let ids = sqlx::query_scalar("SELECT id FROM audit_log ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (db, ids)
}

/// Runs `sql` as the superuser with triggers off, as an intruder could.
async fn tamper(db: &TestDb, sql: &str) {
    let mut conn = db.owner().await;
    let sql = format!("SET session_replication_role = replica; {sql}");
    let done = sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    assert_eq!(done.rows_affected(), 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn verify_audit_detects_a_changed_row() {
    let s = Scratch::new("cli-audit-change");
    let (db, ids) = audited(&s).await;
    // With its trigger on, the log refuses the change even to the superuser.
    let change = format!(
        "UPDATE audit_log SET action = 'user.delete' WHERE id = {}",
        ids[1]
    );
    let refused = sqlx::raw_sql(&change).execute(&mut db.owner().await).await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    tamper(&db, &change).await;
    let r = s.admin(&db, "verify-audit", None).await;
    let line = r.line(&format!("row {}:", ids[1])).to_string();
    assert!(line.contains("does not match its hash"), "{line}");
    assert_eq!(r.out.lines().count(), 1, "only the changed row: {r:#?}");
    let err = r.failed();
    assert!(err.contains("chain broken in 1 place"), "{err}");
}

#[tokio::test]
async fn verify_audit_detects_a_deleted_row() {
    let s = Scratch::new("cli-audit-delete");
    let (db, ids) = audited(&s).await;
    tamper(&db, &format!("DELETE FROM audit_log WHERE id = {}", ids[1])).await;
    let r = s.admin(&db, "verify-audit", None).await;
    // The row after the gap no longer links to its predecessor.
    let line = r.line(&format!("row {}:", ids[2])).to_string();
    assert!(line.contains("previous row is missing"), "{line}");
    let err = r.failed();
    assert!(err.contains("chain broken"), "{err}");
}

/// The newest installed PostgreSQL in Debian's layout: (major, /usr/lib/postgresql/<major>).
fn installed_postgres() -> (u32, PathBuf) {
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server packages under /usr/lib/postgresql")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .filter(|(_, p): &(u32, PathBuf)| p.join("bin/initdb").exists())
        .max()
        .expect("an installed PostgreSQL with bin/initdb")
}

#[tokio::test]
async fn doctor_reports_a_missing_extension() {
    // A private copy of the PostgreSQL installation without pgvector (Debian's build is
    // relocatable: it finds its share folder relative to its binaries).
    let t = Scratch::new("cli-doctor");
    let (major, lib) = installed_postgres();
    let share = PathBuf::from(format!("/usr/share/postgresql/{major}"));
    for (src, rel) in [(&lib, "usr/lib"), (&share, "usr/share")] {
        let dst = mkdirs(&t.0, &format!("{rel}/postgresql"));
        let cp = std::process::Command::new("cp")
            .arg("-a")
            .arg(src)
            .arg(&dst)
            .status();
        assert!(cp.unwrap().success(), "copying {}", src.display());
    }
    let ext = t.0.join(format!("usr/share/postgresql/{major}/extension"));
    for e in std::fs::read_dir(&ext).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("vector") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let bin = t.0.join(format!("usr/lib/postgresql/{major}/bin"));
    let bin = bin.to_str().unwrap();
    let r = run(t.penny(&["doctor"], &[("PENNY_PG_BIN", bin)]), None).await;
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(
        r.line("] database").contains("(embedded cluster)"),
        "{r:#?}"
    );
    let vector = r.line("extension vector");
    let fix = vector.contains("[FAIL]") && vector.contains("fix: install pgvector");
    assert!(fix, "{r:#?}");
    assert!(r.line("extension pg_trgm").contains("[ok  ]"), "{r:#?}");
    assert!(r.out.contains("1 required check(s) failed"), "{r:#?}");
    assert!(
        !t.postmaster_pid().exists(),
        "doctor stops the cluster it started"
    );

    // Against a server with pgvector, everything required is in place.
    let db = TestDb::create().await;
    let s = Scratch::new("cli-doctor-ok");
    let r = run(s.penny(&["doctor"], &[("DATABASE_URL", &db.url)]), None);
    let out = r.await.ok();
    assert!(out.contains("everything required is in place"), "{out}");
    assert!(!out.contains("[FAIL]"), "{out}");
    assert!(
        out.contains("first run") && out.contains("not started yet"),
        "{out}"
    );

    // Started without an admin password: the set-up is pending until the link is used.
    let app = TestApp::spawn_on(db, &[("PENNY_ADMIN_PASSWORD", "")]).await;
    let r = run(s.penny(&["doctor"], &[("DATABASE_URL", &app.db.url)]), None);
    let out = r.await.ok();
    assert!(out.contains("set-up pending"), "{out}");
    assert!(
        out.contains("everything required is in place"),
        "a warning only: {out}"
    );
    app.stop().await;
}

/// `penny serve` running on the embedded cluster, its stdout read line by line.
struct Server {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    log: PathBuf,
    port: u16,
}

impl Server {
    async fn start(s: &Scratch) -> Server {
        Server::start_with(s, &[]).await
    }

    async fn start_with(s: &Scratch, extra: &[(&str, &str)]) -> Server {
        let log = s.0.join("serve.log");
        let vars = [("PORT", "0"), ("HOST", "127.0.0.1"), ("LOG_FORMAT", "json")];
        let mut cmd = s.penny(&["serve"], &vars);
        cmd.envs(extra.iter().copied());
        cmd.env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawning penny serve");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = 0;
        let mut server = Server {
            child,
            stdout,
            log,
            port,
        };
        let first = server.line().await;
        let prefix = format!("PENNY {VERSION} is running at http://127.0.0.1:");
        let port = first.strip_prefix(&prefix).and_then(|p| p.parse().ok());
        server.port = port.unwrap_or_else(|| panic!("unexpected line {first:?}"));
        assert_ne!(server.port, 0, "the announced port is the bound one");
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next stdout line; panics with the server's log when there is none in time.
    async fn line(&mut self) -> String {
        match timeout(TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "no line from penny serve ({other:?}); log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            ),
        }
    }

    /// Reads the set-up line a start without `PENNY_ADMIN_PASSWORD` prints; its token.
    async fn setup_token(&mut self) -> String {
        let line = self.line().await;
        let prefix = format!(
            "Finish set-up in your browser: http://127.0.0.1:{}/setup#",
            self.port
        );
        let token = line.strip_prefix(&prefix).map(str::to_string);
        token.unwrap_or_else(|| panic!("expected the set-up link, got {line:?}"))
    }

    /// Sends SIGTERM; asserts exit code 0 within 30 s and returns the rest of stdout.
    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().expect("still running");
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
        let wait = async {
            let mut rest = Vec::new();
            while let Some(line) = self.stdout.next_line().await.unwrap() {
                rest.push(line);
            }
            (rest, self.child.wait().await.unwrap())
        };
        let (rest, status) = timeout(Duration::from_secs(30), wait)
            .await
            .expect("penny serve exits within 30 s of SIGTERM");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert_eq!(status.code(), Some(0), "log:\n{log}");
        rest
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_serves_ready_without_database_url() {
    let s = Scratch::new("cli-embedded");
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let email = "owner@example.com";
    let password = "owner-password-1";
    let login = |server: &Server| {
        let body = json!({"email": email, "password": password, "tenant": "default"});
        http.post(server.url("/api/v1/auth/login"))
            .json(&body)
            .send()
    };

    let mut server = Server::start(&s).await;
    let first = server.setup_token().await;
    let res = http.get(server.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["database"], "ok", "{ready}");
    server.stop().await;
    let stopped = !s.postmaster_pid().exists();
    assert!(stopped, "the embedded cluster stops with penny");

    // A restart before set-up prints a new link; the old one still works, once.
    let mut server = Server::start(&s).await;
    let token = server.setup_token().await;
    assert_ne!(token, first);
    let setup = |token: &str| {
        let body = json!({"token": token, "email": email, "password": password});
        http.post(server.url("/api/v1/setup")).json(&body).send()
    };
    assert_eq!(setup(&first).await.unwrap().status(), 200);
    assert_eq!(setup(&token).await.unwrap().status(), 404);
    assert_eq!(login(&server).await.unwrap().status(), 200);
    server.stop().await;

    // A restart on the same folder keeps the data: no link any more, the same password.
    let server = Server::start(&s).await;
    assert_eq!(login(&server).await.unwrap().status(), 200);
    let rest = server.stop().await;
    let again = rest.iter().any(|l| l.contains("set-up"));
    assert!(!again, "{rest:?}");
    assert!(!s.postmaster_pid().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_stops_the_embedded_cluster_and_issues_no_link() {
    let s = Scratch::new("cli-busy-port");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let vars = [("PORT", port.as_str()), ("HOST", "127.0.0.1")];
    let failed = run(s.penny(&["serve"], &vars), None).await;
    assert!(!failed.out.contains("set-up"), "{failed:#?}");
    let err = failed.failed();
    assert!(err.contains(&format!("binding 127.0.0.1:{port}")), "{err}");
    assert!(
        !s.postmaster_pid().exists(),
        "the embedded cluster is stopped"
    );
    drop(busy);

    // The next start offers the set-up link.
    let mut server = Server::start(&s).await;
    server.setup_token().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_the_embedded_cluster_and_a_killed_ones_is_adopted() {
    let s = Scratch::new("cli-shared");
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let mut server = Server::start(&s).await;
    server.setup_token().await;

    // An admin command while serve runs shares the cluster and leaves it running.
    let listed = run(s.penny(&["admin", "list-tenants"], &[]), None)
        .await
        .ok();
    assert!(listed.contains("default"), "{listed}");
    assert!(s.postmaster_pid().exists());
    assert_eq!(
        http.get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A killed serve leaves the cluster behind; the next start adopts it and stops it.
    server.child.kill().await.unwrap();
    assert!(s.postmaster_pid().exists());
    let server = Server::start(&s).await;
    assert_eq!(
        http.get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop().await;
    assert!(
        !s.postmaster_pid().exists(),
        "the adopted cluster stops with its last user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_and_reset_tokens_never_land_in_the_log() {
    let s = Scratch::new("logs");
    let db = TestDb::create().await;
    let vars = [
        ("DATABASE_URL", db.url.as_str()),
        ("PENNY_ADMIN_EMAIL", ADMIN_EMAIL),
        ("PENNY_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("JWT_SECRET", JWT_SECRET),
        ("RUST_LOG", "debug,sqlx=warn,hyper=warn,tower_http=debug"),
    ];
    let server = Server::start_with(&s, &vars).await;
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "tenant": "default"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap().to_string();
    let invited: serde_json::Value = http
        .post(server.url("/api/v1/users/invite"))
        .bearer_auth(access)
        .json(&serde_json::json!({"email": "log@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invited["token"].as_str().unwrap().to_string();
    assert_eq!(invited["inviteUrl"], format!("/invite#{token}"));
    let post = |path: &str, body: serde_json::Value| http.post(server.url(path)).json(&body).send();
    let shown = post(
        "/api/v1/invitations/inspect",
        serde_json::json!({"token": token}),
    )
    .await
    .unwrap();
    assert_eq!(shown.status(), 200);
    // A client still using a token in a path (an old link, a guess) is logged redacted.
    for path in [
        format!("/api/v1/invitations/{token}"),
        format!("/invite/{token}"),
        format!("/api/v1/anything/{refresh}"),
    ] {
        let _ = http.get(server.url(&path)).send().await.unwrap();
    }
    let accepted = post(
        "/api/v1/invitations/accept",
        serde_json::json!({"token": token, "password": "a-good-password-1"}),
    )
    .await
    .unwrap();
    assert_eq!(accepted.status(), 200);
    let log_path = server.log.clone();
    server.stop().await;
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("/api/v1/invitations/inspect"),
        "the requests were logged"
    );
    assert!(
        log.contains("[redacted]"),
        "the token-like paths were logged redacted"
    );
    let random = token.trim_start_matches("inv_");
    assert!(!log.contains(random), "an invite token is in the log");
    let refresh_random = refresh.trim_start_matches("rt_");
    assert!(
        !log.contains(refresh_random),
        "a refresh token is in the log"
    );
}
