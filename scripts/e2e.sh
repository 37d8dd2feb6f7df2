#!/usr/bin/env bash
# Browser end-to-end tests of the web app (web/e2e, @playwright/test driving Debian's
# Chromium) against the real `penny` server, a throw-away PostgreSQL database and the fake
# model provider. Idempotent; everything it starts or creates is removed on exit.
# A second server, on its own database and without PENNY_ADMIN_PASSWORD, serves the
# first-run set-up test (setup.e2e.ts) the link it printed.
#
#   bash scripts/e2e.sh                     # all tests, against a debug build (quick)
#   bash scripts/e2e.sh chart.e2e.ts        # extra arguments go to `playwright test`
#   cargo build --release -p penny && PENNY_BIN=target/release/penny bash scripts/e2e.sh
#                                           # against the release binary (what `make test` does)
#
# Environment:
#   PENNY_BIN                the server binary, used as is (default: target/debug/penny,
#                            built here). Build it after web/dist: the app is embedded.
#   FAKE_LLM_BIN             the fake provider (default target/debug/penny-fake-llm, built
#                            here when not given)
#   PENNY_TEST_DATABASE_URL  a PostgreSQL (≥ 15, pgvector) superuser URL
#                            (default postgres://postgres@127.0.0.1:5432/postgres)
#   E2E_KEEP=1               keep the temporary folder (server logs) after the run
# Screenshots, the server and fake logs go to web/e2e/output/.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

ADMIN_EMAIL="e2e-admin@penny.test"
ADMIN_PASSWORD="e2e-admin-password-1"
JWT_SECRET_VALUE="e2e-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz"
BASE_DB_URL="${PENNY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
OUT="$ROOT/web/e2e/output"

say() { printf '\033[1me2e:\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing (apt-get install chromium)"
command -v psql >/dev/null || die "psql is missing"
command -v node >/dev/null || die "node is missing"

# --- builds (only what is missing or stale) -------------------------------------------------
if [ ! -f web/node_modules/@playwright/test/package.json ]; then
  say "installing the web dependencies (npm ci)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f web/dist/index.html ]; then
  say "building the web app (web/dist)"
  npm --prefix web run build --silent
  bash scripts/docs-assets.sh web/dist
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${PENNY_BIN:-}" ]; then
  say "cargo build -p penny -p penny-fake-llm"
  cargo build --quiet -p penny -p penny-fake-llm
  PENNY_BIN="$TARGET_DIR/debug/penny"
elif [ -z "${FAKE_LLM_BIN:-}" ]; then
  say "cargo build -p penny-fake-llm (server: $PENNY_BIN)"
  cargo build --quiet -p penny-fake-llm
fi
FAKE_LLM_BIN="${FAKE_LLM_BIN:-$TARGET_DIR/debug/penny-fake-llm}"
[ -x "$PENNY_BIN" ] || die "no server binary at $PENNY_BIN"
[ -x "$FAKE_LLM_BIN" ] || die "no fake provider at $FAKE_LLM_BIN"

# --- throw-away state, removed by the trap ----------------------------------------------------
# shellcheck source=scripts/lib/server.sh
. "$ROOT/scripts/lib/server.sh"
KEEP_TMP="${E2E_KEEP:-0}"
# The logs are kept in web/e2e/output/ whatever happens.
on_exit() {
  mkdir -p "$OUT"
  cp "$TMP/penny.log" "$OUT/penny.log" 2>/dev/null
  cp "$TMP/fake.log" "$OUT/fake-llm.log" 2>/dev/null
  cp "$TMP/penny-setup.log" "$OUT/penny-setup.log" 2>/dev/null
}
server_init e2e
DB="$(random_db penny_e2e)"
SETUP_DB="${DB}_setup"

create_db "$DB"
create_db "$SETUP_DB"
say "databases $DB, $SETUP_DB"

FAKE_PORT="$(free_port)"
"$FAKE_LLM_BIN" --port "$FAKE_PORT" --token-delay-ms 20 >"$TMP/fake.log" 2>&1 &
PIDS+=("$!")

PORT="$(free_port)"
while [ "$PORT" = "$FAKE_PORT" ]; do PORT="$(free_port)"; done
BASE_URL="http://127.0.0.1:$PORT"
start_penny "$PORT" "$(db_url "$DB")" penny \
  PENNY_ADMIN_EMAIL="$ADMIN_EMAIL" PENNY_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SANDBOX_POOL_SIZE=1 \
  RATE_LIMIT_PER_MINUTE=100000 RATE_LIMIT_IP_PER_MINUTE=100000 \
  LOGIN_MAX_FAILURES=1000 LOGIN_MAX_FAILURES_PER_IP=1000
PENNY_PID=$STARTED_PID

# The first-run server: no admin, so it prints a set-up link (read from its output below).
SETUP_PORT="$(free_port)"
while [ "$SETUP_PORT" = "$FAKE_PORT" ] || [ "$SETUP_PORT" = "$PORT" ]; do SETUP_PORT="$(free_port)"; done
start_penny "$SETUP_PORT" "$(db_url "$SETUP_DB")" penny-setup SANDBOX_POOL_SIZE=0
SETUP_PID=$STARTED_PID

wait_ready "$BASE_URL" "$PENNY_PID" "$TMP/penny.log"
wait_ready "http://127.0.0.1:$SETUP_PORT" "$SETUP_PID" "$TMP/penny-setup.log"
# Printed just after the server starts answering.
for _ in $(seq 1 40); do
  SETUP_URL="$(sed -n 's/^Finish set-up in your browser: \(http[^ ]*\)$/\1/p' "$TMP/penny-setup.log" | tail -n 1)"
  [ -n "$SETUP_URL" ] && break
  sleep 0.25
done
case "$SETUP_URL" in
  "http://127.0.0.1:$SETUP_PORT/setup#"?*) ;;
  *) tail -n 40 "$TMP/penny-setup.log" >&2; die "the first-run server printed no set-up link" ;;
esac
for i in $(seq 1 40); do
  curl -fsS -o /dev/null "http://127.0.0.1:$FAKE_PORT/v1/models" 2>/dev/null && break
  [ "$i" = 40 ] && { cat "$TMP/fake.log" >&2; die "the fake provider did not start"; }
  sleep 0.25
done

TOKEN="$(curl -fsS "$BASE_URL/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\",\"tenant\":\"default\"}" | jq -r .access_token)"
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || die "could not log in as the admin"
curl -fsS -o /dev/null "$BASE_URL/api/v1/models" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"name\":\"fake\",\"provider\":\"openai\",\"base_url\":\"http://127.0.0.1:$FAKE_PORT/v1\",\"is_default\":true}" ||
  die "could not configure the fake model"
say "penny on $BASE_URL, fake model on :$FAKE_PORT, first-run penny on :$SETUP_PORT"

rm -rf "$OUT"
mkdir -p "$OUT"
set +e
(
  cd web
  BASE_URL="$BASE_URL" \
    PENNY_ADMIN_EMAIL="$ADMIN_EMAIL" PENNY_ADMIN_PASSWORD="$ADMIN_PASSWORD" PENNY_TENANT=default \
    PENNY_SETUP_URL="$SETUP_URL" \
    npx --no-install playwright test "$@"
)
STATUS=$?
set -e
if [ "$STATUS" != 0 ]; then
  say "tests failed; the server log's tail:"
  tail -n 30 "$TMP/penny.log" >&2
fi
say "screenshots in ${OUT#"$ROOT"/}/"
exit "$STATUS"
