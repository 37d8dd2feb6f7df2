# PENNY sandbox bootstrap: runs inside bubblewrap as the sandbox's first process.
#
# It pre-imports the heavy libraries (when asked), says it is ready, reads ONE
# request from stdin, forks a child that sets hard rlimits and runs the user's
# script, relays the child's stdout/stderr, then streams the files left in
# /workspace/output and exits. Everything it writes to fd 1 is a frame:
# one type byte, a big-endian u32 length, the payload. The host enforces every
# cap itself: this code runs next to untrusted code and is not trusted.
import os
import sys

CHUNK = 65536


def frame(kind, payload=b""):
    data = kind + len(payload).to_bytes(4, "big") + payload
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def read_exact(n):
    parts = []
    while n:
        part = os.read(0, min(n, 1 << 20))
        if not part:
            raise EOFError("request ended early")
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def preload():
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Draw and save one chart, so that fonts, the pandas plotting backend and the
    # PNG writer are loaded before the fork instead of in every script.
    import io

    fig, ax = plt.subplots()
    pandas.DataFrame({"x": [1, 2], "y": [3, 4]}).plot(x="x", y="y", ax=ax, title="t")
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")

    # Keep the collector off the preloaded objects: touching them in the child
    # would copy every page of the parent's heap.
    import gc

    gc.collect()
    gc.freeze()


def set_limits(limits):
    import resource

    pairs = [
        (resource.RLIMIT_CPU, limits["cpu_secs"], limits["cpu_secs"] + 1),
        (resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"]),
        (resource.RLIMIT_NPROC, limits["max_procs"], limits["max_procs"]),
        (resource.RLIMIT_FSIZE, limits["max_file_bytes"], limits["max_file_bytes"]),
        (resource.RLIMIT_NOFILE, limits["max_open_files"], limits["max_open_files"]),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, soft, hard in pairs:
        resource.setrlimit(which, (soft, hard))


def limit_kind(exc):
    import errno

    if isinstance(exc, MemoryError):
        return b"memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return b"file_size"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return b"disk_full"
    return b""


def child_main(script, out_w, err_w, kind_w, limits):
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    for fd in (null, out_w, err_w):
        os.close(fd)
    os.closerange(3, kind_w)
    os.closerange(kind_w + 1, 1 << 16)
    os.set_inheritable(kind_w, False)
    set_limits(limits)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    code = 0
    try:
        import types

        main = types.ModuleType("__main__")
        main.__file__ = "/workspace/script.py"
        sys.modules["__main__"] = main
        sys.argv = ["/workspace/script.py"]
        exec(compile(script, "/workspace/script.py", "exec"), main.__dict__)
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:  # noqa: B036 - the script's own errors are reported
        kind = limit_kind(exc)
        if kind:
            try:
                os.write(kind_w, kind)
            except OSError:
                pass
        import traceback

        try:
            traceback.print_exc()
        except BaseException:  # noqa: B036 - e.g. no memory left to format it
            os.write(2, repr(exc).encode()[:1000] + b"\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: B036
            pass
    os._exit(code & 0xFF)


def relay(pid, out_r, err_r):
    import select

    pidfd = os.pidfd_open(pid)
    kinds = {out_r: b"O", err_r: b"E"}
    poll = select.poll()
    for fd in (out_r, err_r, pidfd):
        poll.register(fd, select.POLLIN)
    status = None
    while kinds or status is None:
        for fd, _ in poll.poll():
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                poll.unregister(pidfd)
                # Nothing the script started may outlive it (or keep writing).
                try:
                    os.kill(-1, 9)
                except OSError:
                    pass
                continue
            data = os.read(fd, CHUNK)
            if data:
                frame(kinds[fd], data)
            else:
                poll.unregister(fd)
                del kinds[fd]
    return status


def send_outputs(root, max_files, max_bytes):
    import json
    import stat

    sent = skipped = total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                skipped += 1
                continue
            with os.fdopen(fd, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode):
                    skipped += 1
                    continue
                if sent >= max_files or total + info.st_size > max_bytes:
                    skipped += 1
                    continue
                data = f.read(max_bytes - total + 1)
                if total + len(data) > max_bytes:
                    skipped += 1
                    continue
            rel = os.path.relpath(path, root).encode("utf-8", "surrogateescape")
            frame(b"F", len(rel).to_bytes(2, "big") + rel + data)
            sent += 1
            total += len(data)
    return skipped


def main():
    import json

    limits = json.loads(sys.argv[1])
    for folder in ("tmp", "inputs", "output"):
        os.makedirs("/workspace/" + folder, exist_ok=True)
    if sys.argv[2] == "preload":
        preload()
    frame(b"R")

    header = json.loads(read_exact(int.from_bytes(read_exact(4), "big")))
    for spec in header["files"]:
        name = spec["name"]
        data = read_exact(spec["size"])
        if "/" in name or name in ("", ".", ".."):
            raise ValueError("bad input file name")
        with open(os.path.join("/workspace/inputs", name), "wb") as f:
            f.write(data)
    os.close(0)

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    kind_r, kind_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            child_main(header["script"], out_w, err_w, kind_w, limits)
        finally:
            os._exit(70)
    for fd in (out_w, err_w, kind_w):
        os.close(fd)
    status = relay(pid, out_r, err_r)
    os.set_blocking(kind_r, False)
    try:
        kind = os.read(kind_r, 64).decode("ascii", "replace")
    except OSError:
        kind = ""
    result = {
        "exit": os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "kind": kind or None,
    }
    frame(b"S", json.dumps(result).encode())
    skipped = send_outputs("/workspace/output", limits["max_output_files"], limits["max_output_bytes"])
    frame(b"Z", json.dumps({"skipped": skipped}).encode())


def harden():
    # Non-dumpable: the script (same uid) can then neither ptrace this process
    # nor open its fds through /proc to forge frames on the host channel.
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


try:
    harden()
    main()
except BaseException as exc:  # noqa: B036 - reported to the host, never hidden
    try:
        frame(b"X", repr(exc).encode()[:4000])
    except BaseException:  # noqa: B036
        pass
    os._exit(1)
