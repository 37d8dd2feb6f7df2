#!/usr/bin/env bash
# The S3 server that penny-objects' tests run against: s3s-fs, a real S3 server over a
# local folder, built from crates.io into .penny/tools/ (once: about 2 minutes of a
# 2-core machine).
# Idempotent: it prints one "setup:" line per thing it actually does, so a second run
# prints nothing.
#
#   scripts/setup-s3.sh          install s3s-fs if it is missing
#   scripts/setup-s3.sh --start  the same, then make sure it runs on PENNY_TEST_S3_ENDPOINT
#                                (default http://127.0.0.1:9000) with the four buckets
#   scripts/setup-s3.sh --stop   stop the server that --start started
#
# Credentials: PENNY_TEST_S3_ACCESS_KEY_ID / PENNY_TEST_S3_SECRET_ACCESS_KEY (defaults
# penny-test / penny-test-secret, the same defaults the tests use). The data lives in
# .penny/s3/data and is emptied each time the server is started.
set -euo pipefail

ACTION=install
for arg in "$@"; do
  case "$arg" in
    --start) ACTION=start ;;
    --stop) ACTION=stop ;;
    -h | --help)
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
      exit 0
      ;;
    *)
      echo "setup: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

# 0.14.1 is the newest s3s-fs that builds with Rust < 1.96 (0.15 and later need 1.96).
S3S_FS_VERSION=0.14.1
BUCKETS=(penny-artifacts penny-uploads penny-exports penny-backups)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.penny/tools"
BIN="$TOOLS/bin/s3s-fs"
S3_DIR="$ROOT/.penny/s3"
DATA="$S3_DIR/data"
PID_FILE="$S3_DIR/s3s-fs.pid"
SERVER_LOG="$S3_DIR/s3s-fs.log"

ENDPOINT="${PENNY_TEST_S3_ENDPOINT:-http://127.0.0.1:9000}"
ENDPOINT="${ENDPOINT%/}"
ACCESS_KEY="${PENNY_TEST_S3_ACCESS_KEY_ID:-penny-test}"
SECRET_KEY="${PENNY_TEST_S3_SECRET_ACCESS_KEY:-penny-test-secret}"

LOG="$(mktemp -t penny-setup-s3.XXXXXX)"
TMP_DIRS=()
cleanup() {
  rm -f "$LOG"
  if [ "${#TMP_DIRS[@]}" -gt 0 ]; then rm -rf "${TMP_DIRS[@]}"; fi
}
trap cleanup EXIT

say() { echo "setup: $*"; }
die() {
  echo "setup: error: $*" >&2
  exit 1
}

# Run a command with its output captured; show the output only if it fails.
quiet() {
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup: error: command failed: $*" >&2
    tail -n 60 "$LOG" >&2
    exit 1
  fi
}

# The pid in the pid file, if that process is still running.
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# --- stop ------------------------------------------------------------------------

if [ "$ACTION" = stop ]; then
  if pid="$(running_pid)"; then
    say "stopping s3s-fs (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$PID_FILE"
  exit 0
fi

# --- install -----------------------------------------------------------------------

if [ "$("$BIN" --version 2>/dev/null || true)" != "s3s-fs $S3S_FS_VERSION" ]; then
  command -v cargo >/dev/null 2>&1 || die "cargo not found (run scripts/setup.sh first)"
  say "installing s3s-fs $S3S_FS_VERSION (S3 test server) into .penny/tools (takes a few minutes)"
  # Its own build folder, so the install neither locks nor fills the workspace's target.
  # --debug without debuginfo: about 40% less build time than a release build, and a test
  # server is fast enough unoptimised (a 12 MiB multipart upload takes about a second).
  build_dir="$(mktemp -d -t penny-s3s-fs.XXXXXX)"
  TMP_DIRS+=("$build_dir")
  quiet env CARGO_PROFILE_DEV_DEBUG=false cargo install s3s-fs --version "$S3S_FS_VERSION" \
    --features binary --locked --debug --root "$TOOLS" --target-dir "$build_dir" --force
  [ "$("$BIN" --version 2>/dev/null || true)" = "s3s-fs $S3S_FS_VERSION" ] ||
    die "installed s3s-fs but $BIN --version does not say s3s-fs $S3S_FS_VERSION"
fi

[ "$ACTION" = start ] || exit 0

# --- start -----------------------------------------------------------------------

command -v curl >/dev/null 2>&1 || die "curl not found (run scripts/setup.sh first)"

# A body-less request signed with the test credentials (curl does SigV4 itself; S3
# also wants the payload hash, here that of the empty body). Prints the HTTP status,
# 000 when nothing answers.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3() {
  local method="$1" path="$2" how=(-X "$1")
  [ "$method" = HEAD ] && how=(--head)
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${how[@]}" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    "$ENDPOINT$path" || true
}

hostport="${ENDPOINT#http://}"
case "$ENDPOINT" in
  http://*:*) ;;
  *) die "PENNY_TEST_S3_ENDPOINT must look like http://HOST:PORT, not $ENDPOINT" ;;
esac
HOST="${hostport%:*}"
PORT="${hostport##*:}"
case "$PORT" in '' | *[!0-9]*) die "no port in PENNY_TEST_S3_ENDPOINT=$ENDPOINT" ;; esac

status="$(s3 GET "/")"
case "$status" in
  200) ;; # a server that takes our credentials is running: use it
  000)
    case "$HOST" in
      127.0.0.1 | localhost) ;;
      *) die "nothing answers at $ENDPOINT, and this script only starts a server on 127.0.0.1" ;;
    esac
    if pid="$(running_pid)"; then
      die "s3s-fs (pid $pid) is running but does not answer at $ENDPOINT; see $SERVER_LOG or run scripts/setup-s3.sh --stop"
    fi
    say "starting s3s-fs on 127.0.0.1:$PORT (data in .penny/s3/data, emptied)"
    rm -rf "$DATA"
    for bucket in "${BUCKETS[@]}"; do mkdir -p "$DATA/$bucket"; done
    # setsid: the server outlives this script and the shell or job that ran it.
    setsid "$BIN" --host 127.0.0.1 --port "$PORT" \
      --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$DATA" \
      </dev/null >"$SERVER_LOG" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 50); do
      status="$(s3 GET "/")"
      [ "$status" = 200 ] && break
      kill -0 "$(cat "$PID_FILE")" 2>/dev/null ||
        die "s3s-fs exited at start; see $SERVER_LOG"
      sleep 0.1
    done
    [ "$status" = 200 ] || die "s3s-fs started but does not answer at $ENDPOINT; see $SERVER_LOG"
    ;;
  *)
    die "something answers at $ENDPOINT but refuses the test credentials (HTTP $status); stop it or set PENNY_TEST_S3_ENDPOINT and PENNY_TEST_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY"
    ;;
esac

for bucket in "${BUCKETS[@]}"; do
  case "$(s3 HEAD "/$bucket")" in
    200) ;;
    404)
      say "creating bucket $bucket at $ENDPOINT"
      [ "$(s3 PUT "/$bucket")" = 200 ] || die "could not create bucket $bucket at $ENDPOINT"
      ;;
    *) die "HEAD $ENDPOINT/$bucket failed" ;;
  esac
done
