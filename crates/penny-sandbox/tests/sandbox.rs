//! The sandbox against real bubblewrap and the real venv: what a script can
//! do, what it cannot reach, and how every kind of abuse ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use penny_sandbox::{
    InputFile, Limits, Outcome, RunOutput, RunRequest, Sandbox, SandboxConfig, SandboxError,
};

fn venv() -> PathBuf {
    let venv = std::env::var_os("PENNY_SANDBOX_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.penny/sandbox/venv")
        });
    assert!(
        venv.join("bin/python").exists(),
        "the sandbox venv is missing at {}: run scripts/setup.sh (or scripts/setup-sandbox.sh) first",
        venv.display()
    );
    venv
}

fn config(pool_size: usize) -> SandboxConfig {
    SandboxConfig {
        venv: venv(),
        pool_size,
        limits: Limits {
            workspace_bytes: 32 << 20,
            max_file_bytes: 8 << 20,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    }
}

async fn sandbox(pool_size: usize) -> Sandbox {
    match Sandbox::start(config(pool_size)).await {
        Ok(sandbox) => sandbox,
        Err(err) => panic!("the sandbox cannot start: {err}"),
    }
}

async fn sandbox_with_cpu_secs(cpu_secs: u64) -> Sandbox {
    let config = SandboxConfig {
        limits: Limits {
            cpu_secs,
            ..config(0).limits
        },
        ..config(0)
    };
    Sandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("the sandbox cannot start: {e}"))
}

async fn run(sandbox: &Sandbox, script: &str, timeout_secs: u64) -> RunOutput {
    run_with(sandbox, script, vec![], timeout_secs).await
}

async fn run_with(
    sandbox: &Sandbox,
    script: &str,
    files: Vec<InputFile>,
    timeout_secs: u64,
) -> RunOutput {
    let req = RunRequest {
        script: script.to_owned(),
        files,
        timeout: Duration::from_secs(timeout_secs),
    };
    match sandbox.run(req).await {
        Ok(out) => out,
        Err(err) => panic!("run failed: {err}"),
    }
}

/// A normal script still works (used right after and alongside each abuse).
async fn assert_healthy(sandbox: &Sandbox) {
    let out = run(sandbox, "print(sum(range(10)))", 20).await;
    assert_eq!(
        (out.outcome, out.stdout.as_str()),
        (Outcome::Ok, "45\n"),
        "{out:?}"
    );
}

#[tokio::test]
async fn warm_pool_runs_a_script_and_reports_ok() {
    let sandbox = sandbox(1).await;
    assert!(
        sandbox.wait_warm(Duration::from_secs(60)).await,
        "the pool never filled"
    );
    let out = run(
        &sandbox,
        "import sys\nprint(1)\nprint('oops', file=sys.stderr)",
        10,
    )
    .await;
    assert_eq!(out.outcome, Outcome::Ok);
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("1\n", "oops\n")
    );
    let json = serde_json::to_value(&out).unwrap_or_default();
    assert_eq!(json["outcome"], "ok");
    assert_eq!(json["exitCode"], 0);
}

#[tokio::test]
async fn exceptions_and_exit_codes_are_errors() {
    let sandbox = sandbox(0).await;
    let out = run(&sandbox, "raise ValueError('bad input')", 10).await;
    assert_eq!((out.outcome, out.exit_code), (Outcome::Error, Some(1)));
    assert!(
        out.stderr.contains("ValueError: bad input"),
        "{}",
        out.stderr
    );
    let out = run(&sandbox, "import sys; sys.exit(3)", 10).await;
    assert_eq!((out.outcome, out.exit_code), (Outcome::Error, Some(3)));
}

#[tokio::test]
async fn network_is_unreachable() {
    let sandbox = sandbox(0).await;
    let script = r#"
import socket
for host, port in [("127.0.0.1", 5432), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection((host, port), timeout=1).close()
        print("connected", host, port)
    except OSError as exc:
        print("refused", host, port, exc.errno)
try:
    print("resolved", socket.getaddrinfo("example.com", 443))
except OSError:
    print("no dns")
print(sorted(name for _, name in socket.if_nameindex()))
"#;
    let out = run(&sandbox, script, 10).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    assert!(!out.stdout.contains("connected"), "{}", out.stdout);
    assert!(!out.stdout.contains("resolved"), "{}", out.stdout);
    assert!(out.stdout.contains("no dns"));
    assert!(
        out.stdout.contains("['lo']"),
        "only loopback exists: {}",
        out.stdout
    );
}

#[tokio::test]
async fn host_files_and_secrets_are_invisible() {
    std::env::set_var("PENNY_SANDBOX_TEST_SECRET", "hunter2-s3cr3t");
    let sandbox = sandbox(0).await;
    let manifest = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        r#"
import os
print("ENV", dict(os.environ))
for path in ["/etc/shadow", "/etc/passwd", "/proc/1/environ", "/proc/self/environ",
             "{manifest}/Cargo.toml", "/work/main/Cargo.toml", "/root/.bashrc"]:
    try:
        with open(path, "rb") as f:
            print("READ", path, f.read())
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
for folder in ["{manifest}", "/work", "/root", "/home", "/etc"]:
    try:
        print("LIST", folder, os.listdir(folder))
    except OSError as exc:
        print("DENIED", folder, type(exc).__name__)
print("UID", os.getuid(), os.getgid())
print("PIDS", len([p for p in os.listdir("/proc") if p.isdigit()]))
"#
    );
    let out = run(&sandbox, &script, 10).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    assert!(
        !out.stdout.contains("hunter2"),
        "a host secret leaked: {}",
        out.stdout
    );
    for denied in [
        "/etc/shadow",
        "/etc/passwd",
        "Cargo.toml",
        "/root/.bashrc",
        "/work",
        "/home",
    ] {
        assert!(
            !out.stdout
                .lines()
                .any(|l| l.starts_with("READ") && l.contains(denied))
                && !out
                    .stdout
                    .lines()
                    .any(|l| l.starts_with("LIST") && l.contains(denied)),
            "{denied} is visible: {}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("LIST /etc ["), "{}", out.stdout);
    assert!(out.stdout.contains("UID 65534 65534"), "{}", out.stdout);
    assert!(
        out.stdout.contains("PIDS 3\n"),
        "only bwrap's init, the bootstrap and the script: {}",
        out.stdout
    );
}

#[tokio::test]
async fn writes_outside_the_workspace_fail() {
    let sandbox = sandbox(0).await;
    let script = r#"
import os
for path in ["/x", "/usr/x", "/etc/x", "/opt/venv/x", "/proc/x", "/dev/x", "/workspace/ok", "/tmp/ok"]:
    try:
        with open(path, "w") as f:
            f.write("x")
        print("WROTE", path)
    except OSError as exc:
        print("DENIED", path)
"#;
    let out = run(&sandbox, script, 10).await;
    let wrote: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("WROTE"))
        .collect();
    assert_eq!(
        wrote,
        ["WROTE /workspace/ok", "WROTE /tmp/ok"],
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn fork_bomb_is_contained() {
    let sandbox = sandbox(0).await;
    let bomb =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let (out, ()) = tokio::join!(run(&sandbox, bomb, 2), assert_healthy(&sandbox));
    assert_eq!(out.outcome, Outcome::Timeout, "{out:?}");
    assert_healthy(&sandbox).await;
}

#[tokio::test]
async fn memory_bomb_ends_with_memory_limit() {
    let sandbox = sandbox(0).await;
    let bomb = "chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))\n";
    let (out, ()) = tokio::join!(run(&sandbox, bomb, 10), assert_healthy(&sandbox));
    assert_eq!(out.outcome, Outcome::MemoryLimit, "{out:?}");
    assert!(out.stderr.contains("MemoryError"), "{}", out.stderr);
    let out = run(&sandbox, "import numpy\nnumpy.ones((1 << 31,))", 10).await;
    assert_eq!(out.outcome, Outcome::MemoryLimit, "{out:?}");
    assert_healthy(&sandbox).await;
}

#[tokio::test]
async fn infinite_loop_times_out_and_its_whole_process_tree_dies() {
    let sandbox = sandbox(0).await;
    let marker = format!("penny-marker-{}", uuid::Uuid::new_v4());
    let script = format!(
        "import subprocess, sys\n\
         subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], start_new_session=True)\n\
         print('started', flush=True)\n\
         while True:\n    pass\n"
    );
    let started = Instant::now();
    let (out, ()) = tokio::join!(run(&sandbox, &script, 1), assert_healthy(&sandbox));
    assert_eq!(
        (out.outcome, out.exit_code),
        (Outcome::Timeout, None),
        "{out:?}"
    );
    assert_eq!(out.stdout, "started\n", "output before the timeout is kept");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_no_process_with(&marker).await;
    assert_healthy(&sandbox).await;
}

#[tokio::test]
async fn processes_left_behind_by_a_finished_script_die() {
    let sandbox = sandbox(0).await;
    let marker = format!("penny-marker-{}", uuid::Uuid::new_v4());
    let script = format!(
        "import subprocess, sys\n\
         subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], start_new_session=True)\n"
    );
    let out = run(&sandbox, &script, 10).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    assert_no_process_with(&marker).await;
}

/// No host process has `marker` in its command line (within a second).
async fn assert_no_process_with(marker: &str) {
    for _ in 0..20 {
        let mut found = false;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                found |= String::from_utf8_lossy(&cmdline).contains(marker);
            }
        }
        if !found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a sandboxed process outlived its run");
}

#[tokio::test]
async fn filling_the_disk_ends_with_disk_full() {
    let sandbox = sandbox(0).await;
    let script = "i = 0\nwhile True:\n    with open(f'/tmp/fill-{i}', 'wb') as f:\n        f.write(b'x' * (1 << 20))\n    i += 1\n";
    let (out, ()) = tokio::join!(run(&sandbox, script, 10), assert_healthy(&sandbox));
    assert_eq!(out.outcome, Outcome::DiskFull, "{out:?}");
    let out = run(
        &sandbox,
        "with open('big', 'wb') as f:\n    f.write(b'x' * (9 << 20))\n",
        10,
    )
    .await;
    assert_eq!(out.outcome, Outcome::FileLimit, "{out:?}");
    assert_healthy(&sandbox).await;
}

#[tokio::test]
async fn stdout_flood_is_capped_and_killed() {
    let sandbox = sandbox(0).await;
    let flood = "while True:\n    print('x' * 1000)\n";
    let (out, ()) = tokio::join!(run(&sandbox, flood, 10), assert_healthy(&sandbox));
    assert_eq!(out.outcome, Outcome::OutputTruncated, "{:?}", out.outcome);
    assert!(out.stdout_truncated && !out.stderr_truncated);
    assert_eq!(out.stdout.len(), 1 << 20);
    assert!(
        out.duration < Duration::from_secs(8),
        "a flood ends before its timeout"
    );
    assert_healthy(&sandbox).await;
}

#[tokio::test]
async fn cpu_limit_ends_a_busy_script() {
    let sandbox = sandbox_with_cpu_secs(1).await;
    let out = run(&sandbox, "while True:\n    pass\n", 20).await;
    assert_eq!(out.outcome, Outcome::CpuLimit, "{out:?}");
}

#[tokio::test]
async fn matplotlib_chart_comes_back_as_png() {
    let sandbox = sandbox(1).await;
    assert!(
        sandbox.wait_warm(Duration::from_secs(60)).await,
        "the pool never filled"
    );
    let script = r#"
import os
import pandas as pd
import matplotlib.pyplot as plt
pd.DataFrame({"x": range(5), "y": [1, 4, 2, 5, 3]}).plot(x="x", y="y")
plt.savefig("output/chart.png")
os.makedirs("output/data", exist_ok=True)
with open("output/data/table.csv", "w") as f:
    f.write("a,b\n1,2\n")
os.symlink("/etc/ld.so.cache", "output/link")
"#;
    let out = run(&sandbox, script, 30).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    let names: Vec<(&str, &str)> = out
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.mime.as_str()))
        .collect();
    assert_eq!(
        names,
        [("chart.png", "image/png"), ("data/table.csv", "text/csv")]
    );
    assert!(out.files[0].bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(out.files[1].bytes, Bytes::from_static(b"a,b\n1,2\n"));
}

#[tokio::test]
async fn input_files_are_readable_under_sanitized_names() {
    let sandbox = sandbox(0).await;
    let files = vec![
        InputFile {
            name: "data.csv".into(),
            bytes: Bytes::from_static(b"a,b\n1,2\n3,4\n"),
        },
        InputFile {
            name: "../../etc/passwd".into(),
            bytes: Bytes::from_static(b"not a passwd"),
        },
        InputFile {
            name: ".hidden".into(),
            bytes: Bytes::from_static(b"h"),
        },
    ];
    let script = r#"
import os
import csv
print(sorted(os.listdir("inputs")))
print(sum(int(r["b"]) for r in csv.DictReader(open("inputs/data.csv"))))
print(open("inputs/passwd").read())
"#;
    let out = run_with(&sandbox, script, files, 10).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    assert_eq!(
        out.stdout,
        "['data.csv', 'hidden', 'passwd']\n6\nnot a passwd\n"
    );
}

#[tokio::test]
async fn runs_share_no_state() {
    let sandbox = sandbox(1).await;
    assert!(
        sandbox.wait_warm(Duration::from_secs(60)).await,
        "the pool never filled"
    );
    let first = "open('/tmp/left', 'w').write('1')\nopen('/workspace/left', 'w').write('1')\nimport builtins\nbuiltins.LEFT = 1\n";
    let out = run(&sandbox, first, 10).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    assert!(
        sandbox.wait_warm(Duration::from_secs(60)).await,
        "the pool never refilled"
    );
    let second = "import os, builtins\nprint(os.path.exists('/tmp/left'), os.path.exists('/workspace/left'), hasattr(builtins, 'LEFT'))\n";
    let out = run(&sandbox, second, 10).await;
    assert_eq!(out.stdout, "False False False\n", "{out:?}");
}

#[tokio::test]
async fn missing_bubblewrap_or_venv_refuses_to_run() {
    let no_bwrap = SandboxConfig {
        bwrap: "/nonexistent/bwrap".into(),
        ..config(0)
    };
    let err = Sandbox::check(&no_bwrap)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("unavailable") && err.contains("/nonexistent/bwrap"),
        "{err}"
    );
    assert!(matches!(
        Sandbox::start(no_bwrap).await,
        Err(SandboxError::Unavailable(_))
    ));

    let no_venv = SandboxConfig {
        venv: "/nonexistent/venv".into(),
        ..config(0)
    };
    let err = Sandbox::check(&no_venv)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("scripts/setup.sh"), "{err}");
    assert!(Sandbox::check(&config(0)).is_ok());
}

/// RLIMIT_AS is per process: sixty children of ~900 MB each would hold tens of
/// GiB. The run's budget counts them together and ends the run.
#[tokio::test]
async fn forked_children_share_one_memory_budget() {
    let sandbox = sandbox(0).await;
    let bomb = "import os, time\n\
                for i in range(60):\n\
                \x20   try:\n\
                \x20       pid = os.fork()\n\
                \x20   except OSError:\n\
                \x20       break\n\
                \x20   if pid == 0:\n\
                \x20       held = []\n\
                \x20       try:\n\
                \x20           for _ in range(18):\n\
                \x20               held.append(b'x' * (50 << 20))\n\
                \x20       except MemoryError:\n\
                \x20           pass\n\
                \x20       time.sleep(60)\n\
                \x20       os._exit(0)\n\
                while True:\n\
                \x20   try:\n\
                \x20       os.wait()\n\
                \x20   except ChildProcessError:\n\
                \x20       break\n\
                print('all children ended')\n";
    let (out, ()) = tokio::join!(run(&sandbox, bomb, 60), assert_healthy(&sandbox));
    assert_eq!(out.outcome, Outcome::MemoryLimit, "{out:?}");
    assert!(
        out.stderr.contains("MiB together, more than 2048 MiB"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("all children ended"), "{out:?}");
    eprintln!("{}", out.stderr.lines().last().unwrap_or_default());
    assert_healthy(&sandbox).await;
}

/// A CPU budget for the run as a whole, not only per process.
#[tokio::test]
async fn busy_children_share_one_cpu_budget() {
    let sandbox = sandbox_with_cpu_secs(2).await;
    // Four children of 1.5 s each stay under the per-process limit of 2 s.
    let script = "import os, time\n\
                  for i in range(4):\n\
                  \x20   if os.fork() == 0:\n\
                  \x20       end = time.process_time() + 1.5\n\
                  \x20       while time.process_time() < end:\n\
                  \x20           pass\n\
                  \x20       os._exit(0)\n\
                  for i in range(4):\n\
                  \x20   os.wait()\n\
                  print('done')\n";
    let out = run(&sandbox, script, 60).await;
    assert_eq!(out.outcome, Outcome::CpuLimit, "{out:?}");
    assert!(
        out.stderr.contains("s of CPU together, more than 2 s"),
        "{}",
        out.stderr
    );
}

/// The seccomp filter: the kernel interfaces containers escape through fail
/// with EPERM; clone3 and x32 calls with ENOSYS; ordinary calls work.
#[cfg(target_arch = "x86_64")]
#[tokio::test]
async fn dangerous_system_calls_are_refused() {
    let sandbox = sandbox(0).await;
    let script = "import ctypes, errno\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  def call(nr, *args):\n\
                  \x20   ctypes.set_errno(0)\n\
                  \x20   r = libc.syscall(nr, *args)\n\
                  \x20   return errno.errorcode.get(ctypes.get_errno(), 'ok') if r == -1 else 'ok'\n\
                  calls = [('io_uring_setup', 425), ('userfaultfd', 323), ('keyctl', 250),\n\
                  \x20        ('bpf', 321), ('perf_event_open', 298), ('ptrace', 101),\n\
                  \x20        ('process_vm_readv', 310), ('mount', 165), ('unshare', 272),\n\
                  \x20        ('setns', 308), ('kexec_load', 246), ('init_module', 175)]\n\
                  for name, nr in calls:\n\
                  \x20   print(name, call(nr, 0, 0, 0, 0, 0, 0))\n\
                  print('clone3', call(435, 0, 0))\n\
                  print('x32', call(0x40000000 | 39))\n\
                  print('getpid', 'ok' if libc.syscall(39) > 0 else 'refused')\n\
                  print('seccomp', open('/proc/self/status').read().split('Seccomp:')[1].split()[0])\n\
                  import os\n\
                  pid = os.fork()\n\
                  if pid == 0:\n\
                  \x20   os._exit(7)\n\
                  print('fork', os.waitpid(pid, 0)[1] >> 8)\n\
                  import socket\n\
                  def refused(f):\n\
                  \x20   try:\n\
                  \x20       f()\n\
                  \x20       return 'ok'\n\
                  \x20   except PermissionError:\n\
                  \x20       return 'EPERM'\n\
                  print('memfd', refused(lambda: os.memfd_create('held')))\n\
                  print('vsock', refused(lambda: socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)))\n\
                  print('alg', refused(lambda: socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET)))\n\
                  print('unix', refused(lambda: socket.socketpair()))\n\
                  print('ip', refused(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)))\n";
    let out = run(&sandbox, script, 20).await;
    assert_eq!(out.outcome, Outcome::Ok, "{out:?}");
    let expected = "io_uring_setup EPERM\nuserfaultfd EPERM\nkeyctl EPERM\nbpf EPERM\n\
                    perf_event_open EPERM\nptrace EPERM\nprocess_vm_readv EPERM\nmount EPERM\n\
                    unshare EPERM\nsetns EPERM\nkexec_load EPERM\ninit_module EPERM\n\
                    clone3 ENOSYS\nx32 ENOSYS\ngetpid ok\nseccomp 2\nfork 7\n\
                    memfd EPERM\nvsock EPERM\nalg EPERM\nunix ok\nip ok\n";
    assert_eq!(out.stdout, expected);
}
