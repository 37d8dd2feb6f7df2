//! The bubblewrap command line: which namespaces, mounts and environment a
//! sandbox gets, and the start-up probe behind `Sandbox::check`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::config::SandboxConfig;
use crate::SandboxError;

/// Where the venv is mounted (read-only) inside every sandbox.
pub(crate) const VENV_MOUNT: &str = "/opt/venv";
const PYTHON: &str = "/opt/venv/bin/python";
/// `nobody`: the uid/gid bubblewrap itself runs as when the server is root, so
/// that the sandbox user maps to an unprivileged host user, not to host root.
const HOST_UNPRIVILEGED_ID: u32 = 65534;
/// The uid/gid inside the sandbox.
const SANDBOX_ID: &str = "65534";

const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// Read-only bits of /etc that Python and matplotlib use; nothing else of /etc.
const ETC_FILES: &[&str] = &["/etc/ld.so.cache", "/etc/localtime", "/etc/fonts"];

const ENV: &[(&str, &str)] = &[
    ("PATH", "/opt/venv/bin:/usr/bin:/bin"),
    ("HOME", "/workspace"),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("MPLBACKEND", "Agg"),
    ("MPLCONFIGDIR", "/workspace/tmp/.matplotlib"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("OMP_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
];

/// The venv as an absolute path (relative ones are taken from the working dir).
pub(crate) fn venv_path(config: &SandboxConfig) -> Result<PathBuf, SandboxError> {
    let python = config.venv.join("bin/python");
    if !python.exists() {
        return Err(SandboxError::VenvMissing(config.venv.clone()));
    }
    let venv = std::fs::canonicalize(&config.venv)
        .map_err(|_| SandboxError::VenvMissing(config.venv.clone()))?;
    if venv.to_str().is_none() {
        return Err(SandboxError::Unavailable(format!(
            "the venv path {} is not UTF-8",
            venv.display()
        )));
    }
    Ok(venv)
}

/// Everything after `bwrap`, up to and including the command run inside.
fn args(config: &SandboxConfig, venv: &Path, command: &[&str]) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::with_capacity(96);
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    // --unshare-all takes user, pid, net, ipc, uts and cgroup; as root the user
    // namespace is only "try", so it is asked for explicitly. No --share-net.
    push(&["--unshare-all", "--unshare-user", "--disable-userns"]);
    push(&["--die-with-parent", "--new-session"]);
    push(&[
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--hostname",
        "sandbox",
    ]);
    push(&["--cap-drop", "ALL", "--clearenv"]);
    for (key, value) in ENV {
        push(&["--setenv", key, value]);
    }
    push(&["--ro-bind", "/usr", "/usr"]);
    for link in ["bin", "sbin", "lib", "lib64"] {
        let target = format!("usr/{link}");
        push(&["--symlink", &target, &format!("/{link}")]);
    }
    for file in ETC_FILES {
        push(&["--ro-bind-try", file, file]);
    }
    let venv = venv.to_string_lossy();
    push(&["--ro-bind", &venv, VENV_MOUNT]);
    let size = config.limits.workspace_bytes.to_string();
    push(&["--proc", "/proc", "--dev", "/dev"]);
    push(&["--size", &size, "--perms", "0755", "--tmpfs", "/workspace"]);
    push(&["--symlink", "/workspace/tmp", "/tmp"]);
    // The root tmpfs bwrap builds would otherwise be writable by the sandbox.
    push(&[
        "--remount-ro",
        "/",
        "--remount-ro",
        "/dev",
        "--chdir",
        "/workspace",
        "--",
    ]);
    push(command);
    a
}

/// The command line that starts one sandbox running the bootstrap.
pub(crate) fn sandbox_command(
    config: &SandboxConfig,
    venv: &Path,
    preload: bool,
) -> tokio::process::Command {
    let limits = serde_json::json!({
        "cpu_secs": config.limits.cpu_secs,
        "memory_bytes": config.limits.memory_bytes,
        "max_procs": config.limits.max_procs,
        "max_file_bytes": config.limits.max_file_bytes,
        "max_open_files": config.limits.max_open_files,
        "max_output_files": config.limits.max_output_files,
        "max_output_bytes": config.limits.max_output_bytes,
    })
    .to_string();
    let mode = if preload { "preload" } else { "lazy" };
    let argv = [PYTHON, "-I", "-c", BOOTSTRAP, &limits, mode];
    let mut cmd = tokio::process::Command::new(&config.bwrap);
    cmd.args(args(config, venv, &argv))
        // bwrap's own environment would be readable from inside (/proc/1/environ
        // is bwrap's init): it gets none at all.
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if nix::unistd::geteuid().is_root() {
        cmd.uid(HOST_UNPRIVILEGED_ID).gid(HOST_UNPRIVILEGED_ID);
    }
    cmd
}

/// Starts a throw-away sandbox and asks its Python for its version.
pub(crate) fn probe(config: &SandboxConfig) -> Result<(), SandboxError> {
    use std::os::unix::process::CommandExt;

    let venv = venv_path(config)?;
    let argv = [
        PYTHON,
        "-I",
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2])",
    ];
    let mut cmd = std::process::Command::new(&config.bwrap);
    cmd.args(args(config, &venv, &argv))
        .env_clear()
        .stdin(Stdio::null());
    if nix::unistd::geteuid().is_root() {
        cmd.uid(HOST_UNPRIVILEGED_ID).gid(HOST_UNPRIVILEGED_ID);
    }
    let out = cmd.output().map_err(|err| {
        SandboxError::Unavailable(format!("cannot run {}: {err}", config.bwrap.display()))
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let hint =
            if stderr.contains("Can't find source path") || stderr.contains("ermission denied") {
                " (the venv and every folder above it must be readable by uid 65534)"
            } else {
                ""
            };
        return Err(SandboxError::Unavailable(format!(
            "bubblewrap could not start a sandbox ({}): {}{hint}",
            out.status,
            stderr.trim()
        )));
    }
    let version = String::from_utf8_lossy(&out.stdout);
    if version.trim() != "3.11" {
        return Err(SandboxError::Unavailable(format!(
            "the sandbox venv runs Python {}, expected 3.11",
            version.trim()
        )));
    }
    Ok(())
}
