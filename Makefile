# PENNY — `make run` builds and serves, `make test` runs the checks CI runs.
# Both first run scripts/setup.sh, which installs whatever is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# rustup installs cargo here; make may be started from a shell without it.
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Services the tests use; an existing environment value wins.
PENNY_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PENNY_TEST_REDIS_URL ?= redis://127.0.0.1:6379
export PENNY_TEST_DATABASE_URL PENNY_TEST_REDIS_URL

.PHONY: run test setup web bench-api bench-tools

setup:
	bash scripts/setup.sh

# The web app (web/ → web/dist), embedded into the binary at build time. Rebuilt only
# when its sources or lock file change.
WEB_SOURCES := $(shell find web/src web/public web/index.html web/package.json \
	web/tsconfig*.json web/vite.config.* -type f 2>/dev/null)

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES) scripts/docs-assets.sh
	cd web && npm run build --silent
	bash scripts/docs-assets.sh web/dist
	touch web/dist/index.html

web: web/dist/index.html

run: setup web
	cargo build --release -p penny
	exec ./target/release/penny serve

test:
	bash scripts/setup.sh --services
	$(MAKE) --no-print-directory web
	cd web && npm test --silent
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace; \
	else \
	  echo "cargo-nextest not found; using cargo test"; \
	  cargo test --workspace; \
	fi
# The browser tests run against the release binary, the one `make run` serves.
	cargo build --release -p penny
	PENNY_BIN="$${CARGO_TARGET_DIR:-$(CURDIR)/target}/release/penny" bash scripts/e2e.sh
	PENNY_BIN="$${CARGO_TARGET_DIR:-$(CURDIR)/target}/release/penny" bash scripts/security.sh

# Schemathesis against /api/v1/openapi.json (no 5xx) and the OpenAPI-generated
# cross-tenant and role sweep; `make test` runs the short version. A longer run:
# SECURITY_EXAMPLES=500 make security.
.PHONY: security
security:
	bash scripts/setup.sh --services
	bash scripts/security.sh

# Two builds, so `penny` is the very binary `make run` builds (features not unified with
# the bench client's). Pass options with BENCH_ARGS="--duration 5 --connections 32".
bench-api:
	bash scripts/setup.sh --services
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" api $(BENCH_ARGS)

# The job queue (enqueue→start latency, no-op jobs/s) and the Python sandbox (print(1) and
# pandas + chart through the warm pool, against bare python3 measured in the same run),
# then python_execute end to end through the API of the release server (penny-bench tools).
bench-tools:
	bash scripts/setup.sh --services
	cargo run --release -p penny-queue --example queue-bench
	cargo run --release -p penny-sandbox --example sandbox-bench
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" tools $(BENCH_ARGS)

# Chat: SSE streaming through penny against the bare fake provider (200 concurrent
# conversations), and the fan-out of one run to 500 WebSocket subscribers on a second
# instance through Redis. Options: BENCH_ARGS="--streams 100 --subscribers 200".
.PHONY: bench-chat
bench-chat:
	bash scripts/setup.sh --services
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" chat $(BENCH_ARGS)

# Analytics: a tenant seeded with a million messages over 92 days (50 users, 4 models,
# conversations and tool jobs) through the server's rollup functions, then the admin
# console's 90-day report for each groupBy, p50/p95 over 30 requests.
# Options: BENCH_ARGS="--messages 200000 --requests 50".
.PHONY: bench-analytics
bench-analytics:
	bash scripts/setup.sh --services
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" analytics $(BENCH_ARGS)

# Knowledge: a 1.3 MB text PDF (the KJV) ingested against the same pipeline run bare in
# the bench's process; recall@8 of the hybrid, vector and keyword searches on 200
# questions (verses in the World English Bible's words); their latency over 100k chunks;
# the time a search_documents call adds to the first token.
# Options: BENCH_ARGS="--chunks 20000 --questions 100".
.PHONY: bench-rag
bench-rag:
	bash scripts/setup.sh --services --bench-rag
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" rag $(BENCH_ARGS)
