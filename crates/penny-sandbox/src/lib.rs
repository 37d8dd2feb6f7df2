//! Runs untrusted Python in bubblewrap sandboxes: no network, a read-only
//! system, a size-capped tmpfs workspace, hard rlimits and a wall-clock
//! timeout, with a warm pool of sandboxes that each serve exactly one run.
//!
//! There is no unsandboxed fallback: if bubblewrap cannot start a sandbox,
//! [`Sandbox::check`], [`Sandbox::start`] and [`Sandbox::run`] say so.

mod budget;
mod bwrap;
mod config;
mod names;
mod process;
mod seccomp;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Serialize, Serializer};
use tokio::sync::{mpsc, Mutex, Notify};

pub use budget::mode as budget_mode;
pub use config::{Limits, SandboxConfig};

use process::{Prepared, Process};

/// Why a run could not happen. A script that fails is not an error: it is a
/// [`RunOutput`] with an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Python sandbox venv is missing at {0} (run scripts/setup.sh)")]
    VenvMissing(std::path::PathBuf),
    #[error("the Python sandbox is unavailable: {0}")]
    Unavailable(String),
    #[error("the sandbox failed: {0}")]
    Protocol(String),
    #[error("the input files are too large: {total} bytes, the workspace holds {max}")]
    InputTooLarge { total: u64, max: u64 },
}

/// A file the script can read as `inputs/<name>`; the name is sanitized.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: String,
    pub bytes: Bytes,
}

/// One run: the script, its input files and its wall-clock timeout.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub script: String,
    pub files: Vec<InputFile>,
    pub timeout: Duration,
}

/// How a run ended, as a stable snake_case string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Exit status 0.
    Ok,
    /// A non-zero exit, an uncaught exception, or a fatal signal.
    Error,
    /// The wall-clock timeout passed; every process of the sandbox was killed.
    Timeout,
    /// A `MemoryError` reached the top level (the address-space limit).
    MemoryLimit,
    /// The CPU-time limit (SIGXCPU).
    CpuLimit,
    /// stdout or stderr passed its cap: either the script flooded and was
    /// killed, or it exited 0 with part of its output dropped.
    OutputTruncated,
    /// A file grew past the per-file size limit.
    FileLimit,
    /// The workspace tmpfs is full.
    DiskFull,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::MemoryLimit => "memory_limit",
            Self::CpuLimit => "cpu_limit",
            Self::OutputTruncated => "output_truncated",
            Self::FileLimit => "file_limit",
            Self::DiskFull => "disk_full",
        }
    }
}

/// A file the script left under `/workspace/output`. `name` is its path
/// relative to `output/` with sanitized components; serialized, `bytes` is base64.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFile {
    pub name: String,
    pub mime: String,
    #[serde(serialize_with = "as_base64")]
    pub bytes: Bytes,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// The script's exit status; `None` when it was killed (signal, timeout, flood).
    pub exit_code: Option<i32>,
    pub outcome: Outcome,
    pub files: Vec<OutputFile>,
    #[serde(serialize_with = "as_millis", rename = "durationMs")]
    pub duration: Duration,
}

fn as_base64<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn as_millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The sandbox runner and its warm pool. Cheap to share behind an `Arc`.
pub struct Sandbox {
    shared: Arc<Shared>,
    pool: Mutex<mpsc::Receiver<Process>>,
}

struct Shared {
    config: SandboxConfig,
    venv: std::path::PathBuf,
    warm: AtomicUsize,
    warmed: Notify,
}

impl Sandbox {
    /// Checks that sandboxes can start (bubblewrap, user namespaces, the venv),
    /// then starts filling the warm pool in the background.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        let checked = config.clone();
        tokio::task::spawn_blocking(move || Self::check(&checked))
            .await
            .map_err(|e| SandboxError::Unavailable(format!("check panicked: {e}")))??;
        let venv = bwrap::venv_path(&config)?;
        let (tx, rx) = mpsc::channel(config.pool_size.max(1));
        let shared = Arc::new(Shared {
            config,
            venv,
            warm: AtomicUsize::new(0),
            warmed: Notify::new(),
        });
        if shared.config.pool_size > 0 {
            tokio::spawn(fill_pool(Arc::clone(&shared), tx));
        }
        Ok(Self {
            shared,
            pool: Mutex::new(rx),
        })
    }

    /// Starts one throw-away sandbox to prove that runs can work; the error says
    /// what is missing. Used by `penny doctor`; blocks for ~100 ms.
    pub fn check(config: &SandboxConfig) -> Result<(), SandboxError> {
        bwrap::probe(config)
    }

    /// Runs one script in a fresh sandbox (a warm one when the pool has one)
    /// and discards that sandbox afterwards.
    pub async fn run(&self, req: RunRequest) -> Result<RunOutput, SandboxError> {
        let limits = &self.shared.config.limits;
        let total: u64 = req.files.iter().map(|f| f.bytes.len() as u64).sum();
        if total > limits.workspace_bytes {
            return Err(SandboxError::InputTooLarge {
                total,
                max: limits.workspace_bytes,
            });
        }
        let names = names::input_names(req.files.iter().map(|f| f.name.as_str()));
        let prepared = Prepared {
            script: req.script,
            files: names
                .into_iter()
                .zip(req.files.into_iter().map(|f| f.bytes))
                .collect(),
            timeout: req.timeout,
        };
        let process = match self.take_warm().await {
            Some(process) => process,
            None => Process::start(&self.shared.config, &self.shared.venv, false).await?,
        };
        process.run(&prepared, limits).await
    }

    /// How many started sandboxes are waiting in the pool.
    pub fn warm(&self) -> usize {
        self.shared.warm.load(Ordering::Acquire)
    }

    /// Waits until the pool is full or `timeout` passes; says whether it filled.
    pub async fn wait_warm(&self, timeout: Duration) -> bool {
        let target = self.shared.config.pool_size;
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.shared.warmed.notified();
                if self.warm() >= target {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }

    async fn take_warm(&self) -> Option<Process> {
        let mut pool = self.pool.lock().await;
        while let Ok(mut process) = pool.try_recv() {
            self.shared.warm.fetch_sub(1, Ordering::AcqRel);
            if process.is_alive() {
                return Some(process);
            }
        }
        None
    }
}

/// Keeps the pool full, one sandbox start at a time (starts are CPU-heavy and
/// runs should not wait behind them). Ends when the `Sandbox` is dropped.
async fn fill_pool(shared: Arc<Shared>, tx: mpsc::Sender<Process>) {
    let mut failures = 0u32;
    loop {
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        match Process::start(&shared.config, &shared.venv, true).await {
            Ok(process) => {
                failures = 0;
                shared.warm.fetch_add(1, Ordering::AcqRel);
                permit.send(process);
                shared.warmed.notify_waiters();
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, "could not start a warm sandbox");
                drop(permit);
                let backoff = Duration::from_millis(500u64 << failures.min(6));
                tokio::time::sleep(backoff).await;
            }
        }
    }
}
