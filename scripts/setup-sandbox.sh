#!/usr/bin/env bash
# PENNY code-sandbox set-up for Debian 12 (bookworm). Idempotent: it prints one
# line per thing it actually does, so a second run prints nothing.
#
#   scripts/setup-sandbox.sh   install bubblewrap and Debian's Python 3.11 (with
#                              venv), create the sandbox virtualenv and pip-install
#                              crates/penny-sandbox/requirements.txt into it
#
# The venv lives in the project's data folder, .penny/sandbox/venv under the repo
# root; PENNY_SANDBOX_VENV overrides it (the server's sandbox.venv must agree).
# It is re-installed only when requirements.txt changes (a stamp holds its hash).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PENNY_SANDBOX_VENV:-$ROOT/.penny/sandbox/venv}"
REQS="$ROOT/crates/penny-sandbox/requirements.txt"
STAMP="$VENV/.penny-requirements.sha256"
PYTHON=/usr/bin/python3

# --- helpers (same behaviour as scripts/setup.sh) ---------------------------------

SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
fi

LOG="$(mktemp -t penny-setup-sandbox.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

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

apt_install() {
  local p missing=""
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != "installed" ]; then
      missing="$missing $p"
    fi
  done
  missing="${missing# }"
  [ -z "$missing" ] && return 0
  quiet "${SUDO[@]}" apt-get update
  say "installing apt packages: $missing"
  # shellcheck disable=SC2086 # word splitting of the package list is wanted
  quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends $missing
}

# --- 1. system packages ------------------------------------------------------------
# util-linux is essential on Debian; listed for prlimit's sake all the same.

apt_install bubblewrap python3 python3-venv util-linux
[ -x /usr/bin/bwrap ] || die "bubblewrap is installed but /usr/bin/bwrap is missing"
py_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$py_version" = 3.11 ] || die "$PYTHON is Python $py_version, the sandbox needs 3.11 (Debian 12)"

# --- 2. the virtualenv -------------------------------------------------------------
# Symlinks (the default), not copies: inside the sandbox the venv is mounted at
# another path and its python must still resolve to the read-only /usr/bin/python3.

if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/pyvenv.cfg" ] ||
  ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
  say "creating the sandbox virtualenv in $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  quiet "$PYTHON" -m venv "$VENV"
fi

# --- 3. pinned packages --------------------------------------------------------------

want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  say "installing sandbox Python packages from ${REQS#"$ROOT"/}"
  rm -f "$STAMP"
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    --only-binary=:all: -r "$REQS"
  quiet "$VENV/bin/python" -m pip check
  # The venv is read-only inside the sandbox: compile every module now, or each
  # run would compile them again in memory.
  quiet "$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib"
  echo "$want" >"$STAMP"
fi
