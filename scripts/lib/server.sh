# Shared by scripts/e2e.sh and scripts/security.sh (sourced, not run): throw-away
# databases, free ports, and `penny serve` started and stopped around a test run.
#
# Needs, from the caller: ROOT, BASE_DB_URL (a PostgreSQL superuser URL), PENNY_BIN,
# JWT_SECRET_VALUE, and `say` and `die`. `server_init` makes $TMP and the clean-up on exit.

# Makes $TMP (/tmp/penny-$1.XXXXXX) and arranges, on exit: every started process stopped,
# every database made dropped, the caller's `on_exit` (when it defines one), and $TMP
# removed (kept when KEEP_TMP=1). The script's exit status is kept.
server_init() {
  TMP="$(mktemp -d "/tmp/penny-$1.XXXXXX")"
  chmod 755 "$TMP"
  PIDS=()
  DBS=()
  trap server_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

server_exit() {
  local code=$?
  set +e
  server_cleanup
  if declare -F on_exit >/dev/null; then on_exit; fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$code"
}

# The URL of database $1 on the server of BASE_DB_URL (keeps user, host, port and any ?query).
db_url() {
  local db="$1" query="" noquery="$BASE_DB_URL" prefix
  case "$BASE_DB_URL" in
    *\?*) query="?${BASE_DB_URL#*\?}"; noquery="${BASE_DB_URL%%\?*}" ;;
  esac
  prefix="${noquery%/*}"
  case "$prefix" in *://) prefix="$noquery" ;; esac # URL without a database part
  printf '%s/%s%s' "$prefix" "$db" "$query"
}

# A random database name with prefix $1.
random_db() {
  printf '%s_%s' "$1" "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
}

create_db() {
  psql "$BASE_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$1\"" >/dev/null
  DBS+=("$1")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `penny serve` on port $1 against database URL $2, its data under $TMP/$3-* and its
# log in $TMP/$3.log; further arguments are extra VAR=value settings. Sets STARTED_PID.
start_penny() {
  local port="$1" url="$2" name="$3"
  shift 3
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u REDIS_URL -u PENNY_CONFIG \
    -u PENNY_ADMIN_EMAIL -u PENNY_ADMIN_PASSWORD -u PENNY_ADMIN_PASSWORD_FILE \
    DATABASE_URL="$url" \
    PENNY_DATA_DIR="$TMP/$name-data" \
    OBJECTS_DIR="$TMP/$name-objects" \
    JWT_SECRET="$JWT_SECRET_VALUE" \
    SANDBOX_VENV="$ROOT/.penny/sandbox/venv" \
    EMBEDDING_MODEL_DIR="${PENNY_EMBEDDING_MODEL_DIR:-$ROOT/.penny/models/all-MiniLM-L6-v2}" \
    HOST=127.0.0.1 \
    RUST_LOG="${RUST_LOG:-info}" \
    "$@" \
    "$PENNY_BIN" serve --port "$port" >"$TMP/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# Waits until `pid` answers on `url`/ready; `log` is shown when it does not.
wait_ready() {
  local url="$1" pid="$2" log="$3"
  say "waiting for $url/ready"
  for i in $(seq 1 240); do
    if curl -fsS -o /dev/null "$url/ready" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then tail -n 40 "$log" >&2; die "penny exited during start-up"; fi
    [ "$i" = 240 ] && { tail -n 40 "$log" >&2; die "penny was not ready after 60 s"; }
    sleep 0.25
  done
}

# Stops every started process (TERM, then KILL after 5 s) and drops every database made.
server_cleanup() {
  local pid db
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  PIDS=()
  for db in "${DBS[@]}"; do
    psql "$BASE_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null ||
      say "could not drop database $db"
  done
  DBS=()
}
