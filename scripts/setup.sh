#!/usr/bin/env bash
# PENNY machine set-up for Debian 12 (bookworm). Idempotent: run it as often as
# you like. It prints one line per thing it actually does and "setup: ok" at
# the end, so a second run shows nothing else.
#
#   scripts/setup.sh             install what is missing (apt packages, pgvector,
#                                Rust components); used by `make setup` / `make run`
#   scripts/setup.sh --services  the same, then make sure PostgreSQL, Redis and the
#                                test S3 server (s3s-fs) run on 127.0.0.1; used by
#                                `make test`
#   scripts/setup.sh --bench-rag also the public-domain Bible texts the RAG benchmark
#                                reads (diatheke, sword-text-kjv, sword-text-web)
#
# `make run` does not need the system PostgreSQL: without DATABASE_URL penny runs
# its own embedded cluster, which is why services are only started on request.
set -euo pipefail

START_SERVICES=0
BENCH_RAG=0
for arg in "$@"; do
  case "$arg" in
    --services) START_SERVICES=1 ;;
    --bench-rag) BENCH_RAG=1 ;;
    -h | --help)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

# --- helpers ---------------------------------------------------------------

# Root runs everything directly; anyone else goes through sudo when it exists.
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
fi

LOG="$(mktemp -t penny-setup.XXXXXX)"
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

# Prints the packages (of those given) that are not fully installed.
missing_pkgs() {
  local p
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != "installed" ]; then
      echo "$p"
    fi
  done
}

APT_UPDATED=0
apt_update() {
  quiet "${SUDO[@]}" apt-get update
  APT_UPDATED=1
}

apt_install() {
  local missing
  missing="$(missing_pkgs "$@" | tr '\n' ' ')"
  missing="${missing% }"
  [ -z "$missing" ] && return 0
  [ "$APT_UPDATED" -eq 1 ] || apt_update
  say "installing apt packages: $missing"
  # shellcheck disable=SC2086 # word splitting of the package list is wanted
  quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends $missing
}

# Highest PostgreSQL major that has a server binary installed (empty if none).
pg_server_major() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$d" ] || continue
    d="${d#/usr/lib/postgresql/}"
    d="${d%%/*}"
    case "$d" in *[!0-9]*) continue ;; esac
    if [ -z "$best" ] || [ "$d" -gt "$best" ]; then best="$d"; fi
  done
  echo "$best"
}

# The Debian mirror the machine already uses (deb822 .sources or one-line
# .list format), so that the trixie deb-src line goes to the same place.
debian_mirror() {
  local uri
  uri="$(
    {
      grep -hsE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
        sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr -s '[:blank:]' '\n'
      grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | grep -E '^https?://[^[:space:]]+/debian/?$' | head -n 1
  )" || true
  uri="${uri:-http://deb.debian.org/debian}"
  echo "${uri%/}"
}

# --- 1. Rust toolchain (checked first: nothing else helps without it) -----------

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    cat >&2 <<'EOF'
setup: error: cargo not found. Install the Rust toolchain with rustup, then re-run:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . "$HOME/.cargo/env"
EOF
    exit 1
  fi
fi
for comp in rustfmt clippy; do
  case "$comp" in
    rustfmt) sub=fmt ;;
    clippy) sub=clippy ;;
  esac
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 ||
      die "cargo $sub is missing and rustup is not installed to add it"
    say "installing Rust component $comp"
    quiet rustup component add "$comp"
  fi
done

# --- 2. apt packages -------------------------------------------------------------
# libssl-dev is deliberately absent: PENNY uses rustls. dpkg-dev is needed by
# `apt-get source` (pgvector below).

# qpdf: the knowledge tests make a password-protected PDF with it.
BASE_PKGS=(build-essential pkg-config dpkg-dev curl ca-certificates bubblewrap redis-server qpdf)
PG_MAJOR="$(pg_server_major)"
if [ -z "$PG_MAJOR" ]; then
  apt_install "${BASE_PKGS[@]}" postgresql postgresql-contrib
  PG_MAJOR="$(pg_server_major)"
  [ -n "$PG_MAJOR" ] || die "installed postgresql but found no server under /usr/lib/postgresql"
else
  apt_install "${BASE_PKGS[@]}"
fi
apt_install "postgresql-server-dev-$PG_MAJOR"
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"

# --- 3. pgvector, built from Debian trixie's source package ----------------------
# bookworm has no pgvector package; trixie's source builds fine against
# bookworm's PostgreSQL. Only a deb-src line is added, so no binary package can
# ever come from trixie.

VECTOR_CONTROL="/usr/share/postgresql/$PG_MAJOR/extension/vector.control"
if [ ! -f "$VECTOR_CONTROL" ]; then
  say "building pgvector for PostgreSQL $PG_MAJOR from Debian trixie source"
  src_list=/etc/apt/sources.list.d/penny-trixie-src.list
  signed_by=""
  if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    signed_by="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
  fi
  src_line="deb-src ${signed_by}$(debian_mirror) trixie main"
  if ! grep -qxF "$src_line" "$src_list" 2>/dev/null; then
    printf '# Added by PENNY scripts/setup.sh: source packages only (pgvector).\n%s\n' \
      "$src_line" | quiet "${SUDO[@]}" tee "$src_list"
  fi
  apt_update
  build_dir="$(mktemp -d -t penny-pgvector.XXXXXX)"
  TMP_DIRS+=("$build_dir")
  chmod 755 "$build_dir" # lets apt's _apt user download into it
  (cd "$build_dir" && quiet apt-get source pgvector/trixie)
  src_dir="$(find "$build_dir" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
  [ -n "$src_dir" ] || die "apt-get source pgvector did not unpack a pgvector-* directory"
  # OPTFLAGS= : no -march=native, like Debian's own build of the package.
  quiet make -C "$src_dir" -j "$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS=
  quiet "${SUDO[@]}" make -C "$src_dir" install PG_CONFIG="$PG_CONFIG" OPTFLAGS=
  [ -f "$VECTOR_CONTROL" ] || die "pgvector installed but $VECTOR_CONTROL is missing"
fi

# --- 4. later steps (placeholders, not implemented yet) --------------------------

# --- Node.js for the web app (Vite needs Node 20.19+) ----------------------------
if ! command -v node >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[ "$node_major" -ge 20 ] ||
  die "Node.js $(node --version 2>/dev/null || echo '?') is too old for the web build; install Node.js 20 or newer (https://nodejs.org or NodeSource) and re-run"
command -v npm >/dev/null 2>&1 || apt_install npm

# --- Python sandbox venv (bubblewrap, python3-venv, pinned numpy/pandas/…) ---
bash "$(dirname "${BASH_SOURCE[0]}")/setup-sandbox.sh"

# --- the local embedding model (knowledge) ---------------------------------------
bash "$(dirname "${BASH_SOURCE[0]}")/setup-models.sh"

# --- the RAG benchmark's corpus (only with --bench-rag) -------------------------
if [ "$BENCH_RAG" -eq 1 ]; then
  apt_install diatheke sword-text-kjv sword-text-web
fi

# --- 5. services (only with --services) ------------------------------------------

if [ "$START_SERVICES" -eq 1 ]; then
  # Debian's Chromium for the browser tests (scripts/e2e.sh); Playwright downloads nothing.
  apt_install chromium

  # PostgreSQL on 127.0.0.1:5432
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    # "PORT STATUS" of cluster $PG_MAJOR/main, empty if there is no such cluster
    pg_info="$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" {print $3, $4}')"
    if [ -z "$pg_info" ]; then
      say "creating PostgreSQL $PG_MAJOR cluster main (trust auth on localhost TCP)"
      quiet "${SUDO[@]}" pg_createcluster "$PG_MAJOR" main --port 5432 -- \
        --auth-local=peer --auth-host=trust
      pg_info="5432 down"
    fi
    pg_port="${pg_info%% *}"
    [ "$pg_port" = 5432 ] ||
      die "PostgreSQL cluster $PG_MAJOR/main is configured for port $pg_port, the tests expect 5432: set 'port = 5432' in /etc/postgresql/$PG_MAJOR/main/postgresql.conf (or set PENNY_TEST_DATABASE_URL)"
    case "${pg_info#* }" in
      online*) ;; # running, yet not answering on 127.0.0.1:5432: reported below
      *)
        say "starting PostgreSQL $PG_MAJOR cluster main"
        quiet "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start
        ;;
    esac
    for _ in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p 5432 ||
      die "PostgreSQL $PG_MAJOR/main is running but 127.0.0.1:5432 does not accept connections: check listen_addresses in /etc/postgresql/$PG_MAJOR/main/postgresql.conf and /var/log/postgresql/"
  fi
  db_url="${PENNY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if ! PGCONNECT_TIMEOUT=5 psql -w -X -q -At -d "$db_url" -c 'select 1' >/dev/null 2>&1; then
    cat >&2 <<EOF
setup: error: cannot connect to PostgreSQL as $db_url without a password.
  The tests expect trust auth for 127.0.0.1 (fine on a dev/CI machine). Either add
      host all all 127.0.0.1/32 trust
      host all all ::1/128      trust
  above the other 'host' lines in /etc/postgresql/$PG_MAJOR/main/pg_hba.conf and run
      pg_ctlcluster $PG_MAJOR main reload
  or set PENNY_TEST_DATABASE_URL to a URL that works (a password can go in ~/.pgpass).
EOF
    exit 1
  fi

  # Redis on 127.0.0.1:6379 (nothing kept on disk)
  if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    say "starting Redis on 127.0.0.1:6379"
    quiet "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
    quiet "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/penny.log
    for _ in $(seq 1 20); do
      redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && break
      sleep 0.25
    done
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG ||
      die "Redis did not answer on 127.0.0.1:6379 (see /var/log/redis/penny.log)"
  fi
  if [ -n "${PENNY_TEST_REDIS_URL:-}" ] &&
    ! redis-cli -u "$PENNY_TEST_REDIS_URL" ping 2>/dev/null | grep -q PONG; then
    die "Redis at PENNY_TEST_REDIS_URL=$PENNY_TEST_REDIS_URL does not answer PING"
  fi

  # The S3-compatible server the object-storage tests use (s3s-fs from crates.io).
  bash "$(dirname "${BASH_SOURCE[0]}")/setup-s3.sh" --start
fi

say ok
