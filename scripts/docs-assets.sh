#!/usr/bin/env bash
# The API reference page (/api/docs) runs Scalar's standalone bundle, served by PENNY itself
# so the page loads nothing from a third-party CDN. This fetches the pinned release's tarball
# from the npm registry once (npm checks its integrity against the registry), keeps it in
# .penny/cache, and copies the bundle into the web build:
#
#   scripts/docs-assets.sh <web/dist>    writes <web/dist>/docs/scalar.js
#
# Only the tarball is fetched: installing the package would pull its whole dependency tree,
# which the prebuilt bundle does not need.
set -euo pipefail

VERSION=1.76.4
DIST="${1:?usage: docs-assets.sh <web dist folder>}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.penny/cache/scalar-$VERSION"
BUNDLE="$CACHE/package/dist/browser/standalone.js"

if [ ! -s "$BUNDLE" ]; then
  echo "docs-assets: fetching @scalar/api-reference $VERSION (the /api/docs page)"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  (cd "$CACHE" && npm pack --silent "@scalar/api-reference@$VERSION" >/dev/null)
  tar -xzf "$CACHE"/scalar-api-reference-"$VERSION".tgz -C "$CACHE" package/dist/browser/standalone.js
  rm -f "$CACHE"/*.tgz
fi
mkdir -p "$DIST/docs"
cp "$BUNDLE" "$DIST/docs/scalar.js"
