//! The server under test: the release `penny` binary started as a child process,
//! timed from spawn to its first `GET /ready` 200, stopped with SIGTERM.

use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http::StatusCode;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::client::probe_ready;

pub const ADMIN_EMAIL: &str = "bench-admin@example.com";
pub const ADMIN_PASSWORD: &str = "bench-admin-password-1";
const JWT_SECRET: &str = "penny-bench-jwt-secret-0123456789abcdef";
const POLL: Duration = Duration::from_millis(5);
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start the server; the same for every start of one run.
#[derive(Clone)]
pub struct Launch {
    pub bin: PathBuf,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub port: u16,
    /// `KEY=VALUE` pairs set after (so over) the defaults, for experiments.
    pub extra_env: Vec<(String, String)>,
}

impl Launch {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Where the server's stdout and stderr go (kept for the error message on failure);
    /// one file per port, so two instances may share a data dir.
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join(format!("server-{}.log", self.port))
    }

    /// Spawns `penny serve` and waits until `/ready` answers 200; returns the time taken.
    pub async fn start(&self) -> anyhow::Result<(Server, Duration)> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening the server log")?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(["serve", "--port", &self.port.to_string()])
            // The data dir as working directory: no stray ./penny.toml is read.
            .current_dir(&self.data_dir)
            .env_remove("PENNY_CONFIG")
            .env_remove("REDIS_URL")
            .env_remove("PORT")
            .envs(self.env())
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let began = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the server exited ({status}) before it was ready; its log:\n{}",
                    log_tail(&self.log_path())
                );
            }
            if probe_ready(self.addr()).await == Some(StatusCode::OK) {
                break;
            }
            if began.elapsed() > READY_TIMEOUT {
                bail!(
                    "the server was not ready after {READY_TIMEOUT:?}; its log:\n{}",
                    log_tail(&self.log_path())
                );
            }
            tokio::time::sleep(POLL).await;
        }
        Ok((Server { child, pid }, began.elapsed()))
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let limit = "100000000".to_string();
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("HOST", "127.0.0.1".into()),
            ("JWT_SECRET", JWT_SECRET.into()),
            ("PENNY_ADMIN_EMAIL", ADMIN_EMAIL.into()),
            ("PENNY_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("PENNY_DATA_DIR", self.data_dir.display().to_string()),
            ("RUST_LOG", "warn".into()),
            ("RATE_LIMIT_PER_MINUTE", limit.clone()),
            ("RATE_LIMIT_IP_PER_MINUTE", limit.clone()),
            // The fan-out bench follows one conversation from many sockets of one user.
            ("MAX_STREAMS_PER_USER", "1000000".into()),
            // The chat bench runs hundreds of answers at once in one tenant.
            ("TENANT_MAX_RUNS", "1000000".into()),
            ("LOGIN_MAX_FAILURES", limit.clone()),
            ("LOGIN_MAX_FAILURES_PER_IP", limit),
        ]
    }
}

/// A running server process.
pub struct Server {
    child: Child,
    pid: u32,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory now, in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("reading the server's /proc status")?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmRSS in /proc/<pid>/status")?;
        Ok(kb * 1024)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after a timeout); returns the time taken.
    pub async fn stop(mut self) -> anyhow::Result<Duration> {
        let began = Instant::now();
        let pid = i32::try_from(self.pid)?;
        kill(Pid::from_raw(pid), Signal::SIGTERM).context("sending SIGTERM to the server")?;
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the server exited with {status} after SIGTERM");
                }
                Ok(began.elapsed())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed it")
            }
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Finds the release `penny`: next to this binary, else under the workspace's target.
pub fn locate_penny(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    // Beside this binary only when that is a release build's folder (never a debug penny).
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.file_name().is_some_and(|n| n == "release"))
        .map(|dir| dir.join("penny"));
    let in_workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/penny");
    for candidate in beside.into_iter().chain([in_workspace]) {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("no release penny binary found: run `cargo build --release -p penny` first (or use `make bench-api`)")
}

fn log_tail(path: &Path) -> String {
    let text = File::open(path)
        .ok()
        .and_then(|f| std::io::read_to_string(f).ok())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
