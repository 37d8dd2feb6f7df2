//! What the sandbox needs to know: where bubblewrap and the venv are, how many
//! warm sandboxes to keep, and the limits every run gets.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The sandbox's configuration; the server fills it from its own config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The virtualenv made by `scripts/setup-sandbox.sh`. A relative path is taken
    /// from the working directory (the repo root under `make run`).
    pub venv: PathBuf,
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// How many sandboxes to keep started, with numpy, pandas and matplotlib
    /// already imported. 0 starts every sandbox on demand.
    pub pool_size: usize,
    /// Limits applied to every run.
    pub limits: Limits,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            venv: PathBuf::from(".penny/sandbox/venv"),
            bwrap: PathBuf::from("/usr/bin/bwrap"),
            pool_size: 2,
            limits: Limits::default(),
        }
    }
}

/// Per-run limits. The rlimits are hard limits set in the process that runs the
/// script before its first line, so the script cannot raise them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// RLIMIT_CPU of the script's process (and each process it starts).
    pub cpu_secs: u64,
    /// RLIMIT_AS: address space of each process, interpreter included.
    pub memory_bytes: u64,
    /// Memory (PSS) of all of a run's processes together; past it the run ends
    /// as `memory_limit`. `cpu_secs` is likewise also a budget for the whole run.
    pub run_memory_bytes: u64,
    /// RLIMIT_NPROC: processes and threads of the sandbox user (counted per sandbox,
    /// since each sandbox has its own user namespace).
    pub max_procs: u64,
    /// RLIMIT_FSIZE: the largest file the script can write.
    pub max_file_bytes: u64,
    /// RLIMIT_NOFILE.
    pub max_open_files: u64,
    /// Size of the `/workspace` tmpfs (inputs, outputs, `/tmp`).
    pub workspace_bytes: u64,
    /// Cap on each of stdout and stderr; more is dropped and marked truncated.
    pub output_cap_bytes: usize,
    /// At most this many files come back from `/workspace/output`.
    pub max_output_files: usize,
    /// At most this many bytes of files come back, all files together.
    pub max_output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_secs: 60,
            memory_bytes: 1 << 30,
            run_memory_bytes: 2 << 30,
            max_procs: 64,
            max_file_bytes: 64 << 20,
            max_open_files: 256,
            workspace_bytes: 128 << 20,
            output_cap_bytes: 1 << 20,
            max_output_files: 50,
            max_output_bytes: 50 << 20,
        }
    }
}
