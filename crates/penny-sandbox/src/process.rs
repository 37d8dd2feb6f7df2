//! One sandbox process from start to end: spawn bubblewrap, wait for the
//! bootstrap's "ready" frame, hand over one request, read frames back with caps
//! and deadlines, and kill the whole sandbox when done.
//!
//! Frames from the bootstrap (stdout of bwrap): one type byte, a big-endian u32
//! length, the payload. `R` ready, `O`/`E` a chunk of the script's stdout/stderr,
//! `S` the script's exit status (JSON), `F` an output file (u16 name length,
//! name, bytes), `Z` end, `X` a bootstrap error. The script runs next to the
//! bootstrap, so it could forge frames: nothing here trusts them beyond its own
//! run — every length is checked before anything is allocated.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

use crate::budget::{Breach, Budget, Procfs, Watch};
use crate::config::{Limits, SandboxConfig};
use crate::names::{mime_for, output_name};
use crate::{bwrap, Outcome, OutputFile, RunOutput, SandboxError};

/// How long a sandbox may take to start (imports included) before it counts as broken.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the bootstrap may take to send the output files once the script ended.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_SMALL_FRAME: usize = 1 << 20;
const MAX_BWRAP_STDERR: usize = 16 << 10;
const MAX_INFO: usize = 4 << 10;

/// A started sandbox whose bootstrap is waiting for its request.
pub(crate) struct Process {
    child: Child,
    /// Host pid of bubblewrap (our child), and the sandbox's own `/proc`.
    outer: u32,
    procfs: Option<Arc<Procfs>>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: JoinHandle<String>,
}

/// A request with sanitized names, ready to be written to the bootstrap.
pub(crate) struct Prepared {
    pub script: String,
    pub files: Vec<(String, Bytes)>,
    pub timeout: Duration,
}

#[derive(Deserialize)]
struct Status {
    exit: Option<i32>,
    signal: Option<i32>,
    kind: Option<String>,
}

/// Captures one of the script's streams up to a cap.
struct Capture {
    text: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Self {
            text: Vec::new(),
            cap,
            dropped: 0,
        }
    }

    /// Keeps what fits; says whether the stream has flooded (twice its cap).
    fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.text.len());
        let keep = room.min(chunk.len());
        self.text.extend_from_slice(&chunk[..keep]);
        self.dropped = self.dropped.saturating_add(chunk.len() - keep);
        self.dropped > self.cap
    }

    fn truncated(&self) -> bool {
        self.dropped > 0
    }

    /// Appends a line of the sandbox's own (when there is room), after what the script wrote.
    fn note(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        if self.text.last().is_some_and(|&b| b != b'\n') {
            self.push(b"\n");
        }
        self.push(line.as_bytes());
    }

    fn into_string(self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

impl Process {
    /// Starts a sandbox and waits until its bootstrap is ready for a request.
    pub(crate) async fn start(
        config: &SandboxConfig,
        venv: &Path,
        preload: bool,
    ) -> Result<Self, SandboxError> {
        let (mut command, info) = bwrap::sandbox_command(config, venv, preload)?;
        let mut child = command
            .spawn()
            .map_err(|err| SandboxError::Unavailable(format!("cannot start bubblewrap: {err}")))?;
        drop(command); // closes our copies of the fds bubblewrap was given
        let (Some(outer), Some(stdin), Some(stdout), Some(stderr)) = (
            child.id(),
            child.stdin.take(),
            child.stdout.take(),
            child.stderr.take(),
        ) else {
            return Err(SandboxError::Protocol("bubblewrap pipes missing".into()));
        };
        let stderr = tokio::spawn(read_capped(stderr, MAX_BWRAP_STDERR));
        let mut process = Self {
            child,
            outer,
            procfs: None,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
        };
        match tokio::time::timeout(START_TIMEOUT, read_frame(&mut process.stdout, 0)).await {
            Ok(Ok(Some((b'R', _)))) => {
                // bubblewrap wrote its info before the bootstrap began, and
                // nothing untrusted has run yet to write to that pipe.
                let init = read_init_pid(info).await?;
                let Some(procfs) = Procfs::open(init) else {
                    return Err(SandboxError::Unavailable(format!(
                        "cannot read the sandbox's processes under /proc/{init}/root/proc, so the per-run budget cannot be kept"
                    )));
                };
                process.procfs = Some(Arc::new(procfs));
                Ok(process)
            }
            Ok(Ok(Some((b'X', msg)))) => Err(SandboxError::Protocol(format!(
                "sandbox bootstrap failed: {}",
                String::from_utf8_lossy(&msg)
            ))),
            Ok(Ok(_)) | Ok(Err(_)) => Err(process.died("while starting").await),
            Err(_) => Err(SandboxError::Protocol(
                "sandbox did not start within 60 s".into(),
            )),
        }
    }

    /// Whether the sandbox is still running (a pooled one may have died).
    pub(crate) fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The error for a sandbox that ended when it should not have, with bwrap's stderr.
    async fn died(mut self, when: &str) -> SandboxError {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        SandboxError::Protocol(format!("sandbox ended {when}: {}", stderr.trim()))
    }

    /// Hands the request over, then runs it to the end. The sandbox is used up.
    pub(crate) async fn run(
        mut self,
        req: &Prepared,
        limits: &Limits,
    ) -> Result<RunOutput, SandboxError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + req.timeout;
        let Some(procfs) = self.procfs.clone() else {
            return Err(SandboxError::Protocol("the sandbox was not started".into()));
        };
        let watch = Watch::start(
            procfs,
            self.outer,
            Budget {
                memory_bytes: limits.run_memory_bytes,
                cpu_secs: limits.cpu_secs,
            },
        );
        let sent = tokio::time::timeout_at(deadline, self.send(req)).await;
        let mut out = Capture::new(limits.output_cap_bytes);
        let mut err = Capture::new(limits.output_cap_bytes);
        let ending = match sent {
            Err(_) => Ending::Timeout,
            Ok(Err(_)) => {
                drop(watch); // before `died` reaps bubblewrap
                return Err(self.died("before its request was sent").await);
            }
            Ok(Ok(())) => self.follow(deadline, &mut out, &mut err).await?,
        };
        // The watcher stays on while the files are collected: processes the script
        // left behind are still running then.
        let files = match ending {
            Ending::Exited(_) => self.collect(limits).await,
            _ => Vec::new(),
        };
        let breach = watch.breach();
        drop(watch);
        let outcome = match (breach, &ending) {
            (Some(Breach::Memory(_)), _) => Outcome::MemoryLimit,
            (Some(Breach::Cpu(_)), _) => Outcome::CpuLimit,
            (None, Ending::Timeout) => Outcome::Timeout,
            (None, Ending::Flood) => Outcome::OutputTruncated,
            (None, Ending::Died) => Outcome::Error,
            (None, Ending::Exited(status)) => {
                outcome_of(status, out.truncated() || err.truncated())
            }
        };
        let _ = self.child.start_kill();
        let exit_code = match ending {
            Ending::Exited(ref s) => s.exit,
            _ => None,
        };
        let note = match breach {
            Some(Breach::Memory(used)) => format!(
                "[sandbox] stopped: the run's processes used {} MiB together, more than {} MiB",
                used >> 20,
                limits.run_memory_bytes >> 20
            ),
            Some(Breach::Cpu(used)) => format!(
                "[sandbox] stopped: the run's processes used {used} s of CPU together, more than {} s",
                limits.cpu_secs
            ),
            None if matches!(ending, Ending::Died) => {
                let note = (&mut self.stderr).await.unwrap_or_default();
                format!("[sandbox ended unexpectedly] {}", note.trim())
            }
            None => String::new(),
        };
        err.note(&note);
        Ok(RunOutput {
            stdout_truncated: out.truncated(),
            stderr_truncated: err.truncated(),
            stdout: out.into_string(),
            stderr: err.into_string(),
            exit_code,
            outcome,
            files,
            duration: started.elapsed(),
        })
    }

    async fn send(&mut self, req: &Prepared) -> std::io::Result<()> {
        let files: Vec<_> = req
            .files
            .iter()
            .map(|(name, bytes)| serde_json::json!({ "name": name, "size": bytes.len() }))
            .collect();
        let header = serde_json::json!({ "script": req.script, "files": files }).to_string();
        let len =
            u32::try_from(header.len()).map_err(|_| std::io::Error::other("script too large"))?;
        self.stdin.write_all(&len.to_be_bytes()).await?;
        self.stdin.write_all(header.as_bytes()).await?;
        for (_, bytes) in &req.files {
            self.stdin.write_all(bytes).await?;
        }
        self.stdin.flush().await
    }

    /// Reads the script's output until it ends, floods, or the deadline passes.
    async fn follow(
        &mut self,
        deadline: tokio::time::Instant,
        out: &mut Capture,
        err: &mut Capture,
    ) -> Result<Ending, SandboxError> {
        loop {
            let frame = tokio::time::timeout_at(deadline, read_frame(&mut self.stdout, 0)).await;
            let (kind, payload) = match frame {
                Err(_) => return Ok(Ending::Timeout),
                Ok(Err(_)) | Ok(Ok(None)) => return Ok(Ending::Died),
                Ok(Ok(Some(frame))) => frame,
            };
            let flooded = match kind {
                b'O' => out.push(&payload),
                b'E' => err.push(&payload),
                b'S' => {
                    let status = serde_json::from_slice(&payload).map_err(|e| {
                        SandboxError::Protocol(format!("bad status from sandbox: {e}"))
                    })?;
                    return Ok(Ending::Exited(status));
                }
                b'X' => {
                    return Err(SandboxError::Protocol(format!(
                        "sandbox bootstrap failed: {}",
                        String::from_utf8_lossy(&payload)
                    )))
                }
                other => {
                    return Err(SandboxError::Protocol(format!(
                        "unexpected frame {:?} from sandbox",
                        char::from(other)
                    )))
                }
            };
            if flooded {
                return Ok(Ending::Flood);
            }
        }
    }

    /// Reads the `F` frames after the script ended, within the caps.
    async fn collect(&mut self, limits: &Limits) -> Vec<OutputFile> {
        let max_frame = usize::try_from(limits.max_output_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(1 << 16);
        let mut files: Vec<OutputFile> = Vec::new();
        let mut total: u64 = 0;
        let deadline = tokio::time::Instant::now() + COLLECT_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(deadline, read_frame(&mut self.stdout, max_frame));
            let Ok(Ok(Some((b'F', payload)))) = frame.await else {
                break; // `Z`, an error, EOF or the deadline: keep what arrived
            };
            let Some(file) = parse_file(payload, files.len()) else {
                break;
            };
            total += file.bytes.len() as u64;
            if files.len() >= limits.max_output_files || total > limits.max_output_bytes {
                break;
            }
            files.push(file);
        }
        files
    }
}

enum Ending {
    Exited(Status),
    Timeout,
    Flood,
    Died,
}

fn outcome_of(status: &Status, truncated: bool) -> Outcome {
    const SIGXCPU: i32 = 24;
    const SIGXFSZ: i32 = 25;
    match (status.kind.as_deref(), status.signal, status.exit) {
        (Some("memory"), _, _) => Outcome::MemoryLimit,
        (Some("file_size"), _, _) | (_, Some(SIGXFSZ), _) => Outcome::FileLimit,
        (Some("disk_full"), _, _) => Outcome::DiskFull,
        (_, Some(SIGXCPU), _) => Outcome::CpuLimit,
        (_, _, Some(0)) if truncated => Outcome::OutputTruncated,
        (_, _, Some(0)) => Outcome::Ok,
        _ => Outcome::Error,
    }
}

fn parse_file(payload: Vec<u8>, index: usize) -> Option<OutputFile> {
    let name_len = usize::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
    let name_end = 2 + name_len;
    let name = output_name(payload.get(2..name_end)?, index);
    let bytes = Bytes::from(payload).slice(name_end..);
    Some(OutputFile {
        mime: mime_for(&name).to_owned(),
        name,
        bytes,
    })
}

/// Reads one frame. `max_file` bounds `F` frames; every other frame is small.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_file: usize,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match reader.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let max = if head[0] == b'F' {
        max_file
    } else {
        MAX_SMALL_FRAME
    };
    if len > max {
        return Err(std::io::Error::other("sandbox frame too large"));
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await?;
    Ok(Some((head[0], payload)))
}

/// Reads bubblewrap's `--info-fd` JSON up to its closing brace (the pipe stays
/// open inside the sandbox, so there is no EOF to wait for).
async fn read_init_pid(info: std::os::fd::OwnedFd) -> Result<u32, SandboxError> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "child-pid")]
        child_pid: u32,
    }
    let bad = |why: &str| SandboxError::Protocol(format!("bubblewrap info: {why}"));
    let mut pipe =
        tokio::net::unix::pipe::Receiver::from_owned_fd(info).map_err(|e| bad(&e.to_string()))?;
    let mut text = Vec::new();
    let mut buf = [0u8; 512];
    let read = async {
        while !text.contains(&b'}') && text.len() < MAX_INFO {
            let n = pipe.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        std::io::Result::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| bad("nothing written"))?
        .map_err(|e| bad(&e.to_string()))?;
    let end = text
        .iter()
        .position(|&b| b == b'}')
        .ok_or_else(|| bad("incomplete"))?;
    let info: Info = serde_json::from_slice(&text[..=end]).map_err(|e| bad(&e.to_string()))?;
    Ok(info.child_pid)
}

async fn read_capped<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}
