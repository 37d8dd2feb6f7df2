//! The per-run budget: memory and CPU of all of a run's processes together.
//!
//! The rlimits the bootstrap sets are per process, so a script that forks 60
//! children could hold 60 times the memory limit. Each run has its own PID
//! namespace and its own `/proc`, reachable from the host as
//! `/proc/<sandbox init>/root/proc`, which lists exactly the run's processes. It is
//! opened once, while the init is known to be the sandbox's, and read through that
//! descriptor, so a pid reused after the sandbox ended can never point the watcher at
//! other processes. A watcher reads it every [`POLL`] and kills the sandbox when the
//! run's proportional set size (PSS: shared pages split between the processes that
//! share them, so a fork of the preloaded interpreter is not counted twice; swapped
//! pages included) or its CPU time since the request passes the budget.
//!
//! What it cannot see: kernel memory such as socket buffers (bounded by the open-file
//! and process limits), and the CPU of children that ended unreaped under an ignored
//! SIGCHLD (each still bounded by RLIMIT_CPU, the run by its timeout). memfd files,
//! memory in no process's resident set, are refused by the seccomp filter.
//!
//! This is the mode for hosts without a delegated cgroup v2 (what [`mode`] reports
//! to `penny doctor`); it bounds a run to its budget plus what it can allocate in
//! one poll interval.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::task::JoinHandle;

/// How often a run's processes are measured.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Which limit a run went past, and what it had used when it was stopped
/// (bytes of memory, or seconds of CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    Memory(u64),
    Cpu(u64),
}

const NONE: u8 = 0;
const MEMORY: u8 = 1;
const CPU: u8 = 2;

/// What a run may use in all its processes together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub memory_bytes: u64,
    pub cpu_secs: u64,
}

/// How the per-run budget is enforced on this host, in one line for `penny doctor`.
pub fn mode() -> String {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let host = if v2 {
        "cgroup v2 is mounted but PENNY does not manage cgroups"
    } else {
        "no cgroup v2 on this host"
    };
    format!(
        "{host}: each run's memory (PSS) and CPU are summed over its PID namespace every {} ms and the run is stopped when they pass its budget",
        POLL.as_millis()
    )
}

/// A sandbox's own `/proc`, held open.
pub(crate) struct Procfs(File);

impl Procfs {
    /// Opens the `/proc` of the sandbox whose PID-namespace init is `init` (a host
    /// pid), and checks that its processes can be read.
    pub(crate) fn open(init: u32) -> Option<Self> {
        let procfs = Procfs(File::open(format!("/proc/{init}/root/proc")).ok()?);
        measure(&procfs.path(), None)?;
        Some(procfs)
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }
}

/// A running watcher; dropping it stops the watching (never the sandbox).
pub(crate) struct Watch {
    task: JoinHandle<()>,
    breach: Arc<(AtomicU8, AtomicU64)>,
}

impl Watch {
    /// Starts watching a sandbox's processes. `outer` is bubblewrap itself, the
    /// server's own child: killing it takes the whole sandbox down
    /// (`--die-with-parent`), and its pid cannot be reused while the server has not
    /// reaped it (a run drops its watch before it reaps).
    pub(crate) fn start(procfs: Arc<Procfs>, outer: u32, budget: Budget) -> Self {
        let breach = Arc::new((AtomicU8::new(NONE), AtomicU64::new(0)));
        let seen = Arc::clone(&breach);
        // Measured here, before the request is handed over, so that the script's
        // first milliseconds count.
        let start = measure(&procfs.path(), None);
        let task = tokio::spawn(async move {
            let Some(start) = start else { return };
            let ticks = clock_ticks();
            let cpu_budget = budget.cpu_secs.saturating_mul(ticks);
            let mut tick = tokio::time::interval(POLL);
            loop {
                tick.tick().await;
                let procfs = Arc::clone(&procfs);
                let limit = budget.memory_bytes;
                let Ok(Some(now)) =
                    tokio::task::spawn_blocking(move || measure(&procfs.path(), Some(limit))).await
                else {
                    return; // the sandbox has ended
                };
                let cpu = now.cpu_ticks.saturating_sub(start.cpu_ticks);
                let (verdict, used) = if now.memory_bytes > budget.memory_bytes {
                    (MEMORY, now.memory_bytes)
                } else if cpu > cpu_budget {
                    (CPU, cpu / ticks.max(1))
                } else {
                    continue;
                };
                seen.1.store(used, Ordering::Relaxed);
                seen.0.store(verdict, Ordering::Release);
                if let Ok(pid) = i32::try_from(outer) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                return;
            }
        });
        Self { task, breach }
    }

    /// The limit the run went past, if the watcher stopped it.
    pub(crate) fn breach(&self) -> Option<Breach> {
        let used = || self.breach.1.load(Ordering::Relaxed);
        match self.breach.0.load(Ordering::Acquire) {
            MEMORY => Some(Breach::Memory(used())),
            CPU => Some(Breach::Cpu(used())),
            _ => None,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    memory_bytes: u64,
    cpu_ticks: u64,
}

/// Sums the run's processes. Resident sizes are read first (cheap); only when
/// they add up to more than `limit` is the exact PSS read. `None` when the
/// sandbox is gone.
fn measure(procfs: &Path, limit: Option<u64>) -> Option<Usage> {
    let pids: Vec<PathBuf> = std::fs::read_dir(procfs)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path())
        .collect();
    if pids.is_empty() {
        return None;
    }
    let mut usage = Usage {
        memory_bytes: 0,
        cpu_ticks: 0,
    };
    let mut rss = Vec::with_capacity(pids.len());
    for pid in &pids {
        usage.cpu_ticks += cpu_ticks(pid).unwrap_or(0);
        let status = std::fs::read_to_string(pid.join("status")).unwrap_or_default();
        rss.push(
            kb_field(&status, "VmRSS:").unwrap_or(0) + kb_field(&status, "VmSwap:").unwrap_or(0),
        );
    }
    usage.memory_bytes = rss.iter().sum::<u64>() * 1024;
    if limit.is_some_and(|limit| usage.memory_bytes > limit) {
        // A process that made itself non-dumpable hides its smaps from an unprivileged
        // server: it is counted at its full resident size, never at 0.
        usage.memory_bytes = pids
            .iter()
            .zip(&rss)
            .map(|(pid, rss)| {
                let rollup = std::fs::read_to_string(pid.join("smaps_rollup")).unwrap_or_default();
                match kb_field(&rollup, "Pss:") {
                    Some(pss) => (pss + kb_field(&rollup, "SwapPss:").unwrap_or(0)) * 1024,
                    None => *rss * 1024,
                }
            })
            .sum();
    }
    Some(usage)
}

/// utime + stime of a process and of the children it has reaped. Every ended
/// process of the run is reaped by one that is still there (at the latest the
/// namespace's init), so the sum over the living counts each one once.
fn cpu_ticks(pid: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(pid.join("stat")).ok()?;
    // The command name is in parentheses and may hold anything: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Fields 14–17 of proc(5) (utime, stime, cutime, cstime); `rest` starts at 3.
    let sum = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<i64>().unwrap_or(0).max(0) as u64)
        .sum();
    Some(sum)
}

/// A `Name:   123 kB` line of a procfs file's text, in kB.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `USER_HZ`, the unit of procfs CPU times.
fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(100)
}
