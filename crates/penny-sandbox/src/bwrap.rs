//! The bubblewrap command line: which namespaces, mounts and environment a
//! sandbox gets, and the start-up probe behind `Sandbox::check`.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use command_fds::{CommandFdExt, FdMapping};

use crate::config::SandboxConfig;
use crate::{seccomp, SandboxError};

/// Where the venv is mounted (read-only) inside every sandbox.
pub(crate) const VENV_MOUNT: &str = "/opt/venv";
const PYTHON: &str = "/opt/venv/bin/python";
/// `nobody`: the uid/gid bubblewrap itself runs as when the server is root, so
/// that the sandbox user maps to an unprivileged host user, not to host root.
const HOST_UNPRIVILEGED_ID: u32 = 65534;
/// The uid/gid inside the sandbox.
const SANDBOX_ID: &str = "65534";

const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// The fds bubblewrap gets besides stdio: the seccomp program it reads, and the
/// pipe it writes `{"child-pid": …}` to (the sandbox's init, as a host pid).
const SECCOMP_FD: i32 = 3;
const INFO_FD: i32 = 4;

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
fn args(config: &SandboxConfig, venv: &Path, command: &[&str], info: bool) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::with_capacity(96);
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&["--seccomp", &SECCOMP_FD.to_string()]);
    if info {
        push(&["--info-fd", &INFO_FD.to_string()]);
    }
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

fn unavailable(what: &str) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |err| SandboxError::Unavailable(format!("{what}: {err}"))
}

/// The command line that starts one sandbox running the bootstrap, and the read
/// end of its info pipe.
pub(crate) fn sandbox_command(
    config: &SandboxConfig,
    venv: &Path,
    preload: bool,
) -> Result<(tokio::process::Command, OwnedFd), SandboxError> {
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
    let filter = seccomp::program_fd().map_err(unavailable("cannot pass the seccomp filter"))?;
    let (info_read, info_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| unavailable("cannot make a pipe")(e.into()))?;
    let mut cmd = tokio::process::Command::new(&config.bwrap);
    cmd.args(args(config, venv, &argv, true))
        // bwrap's own environment would be readable from inside (/proc/1/environ
        // is bwrap's init): it gets none at all.
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .fd_mappings(vec![
            FdMapping {
                parent_fd: filter,
                child_fd: SECCOMP_FD,
            },
            FdMapping {
                parent_fd: info_write,
                child_fd: INFO_FD,
            },
        ])
        .map_err(|e| SandboxError::Unavailable(e.to_string()))?;
    if nix::unistd::geteuid().is_root() {
        cmd.uid(HOST_UNPRIVILEGED_ID).gid(HOST_UNPRIVILEGED_ID);
    }
    Ok((cmd, info_read))
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
    let filter = seccomp::program_fd().map_err(unavailable("cannot pass the seccomp filter"))?;
    let mut cmd = std::process::Command::new(&config.bwrap);
    cmd.args(args(config, &venv, &argv, false))
        .env_clear()
        .stdin(Stdio::null())
        .fd_mappings(vec![FdMapping {
            parent_fd: filter,
            child_fd: SECCOMP_FD,
        }])
        .map_err(|e| SandboxError::Unavailable(e.to_string()))?;
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
