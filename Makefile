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

.PHONY: run test setup bench-api bench-tools

setup:
	bash scripts/setup.sh

run: setup
	cargo build --release -p penny
	exec ./target/release/penny serve

test:
	bash scripts/setup.sh --services
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace; \
	else \
	  echo "cargo-nextest not found; using cargo test"; \
	  cargo test --workspace; \
	fi

# Two builds, so `penny` is the very binary `make run` builds (features not unified with
# the bench client's). Pass options with BENCH_ARGS="--duration 5 --connections 32".
bench-api:
	bash scripts/setup.sh --services
	cargo build --release -p penny
	cargo build --release -p penny-bench
	"$${CARGO_TARGET_DIR:-target}/release/penny-bench" api $(BENCH_ARGS)

# The job queue (enqueue→start latency, no-op jobs/s) and the Python sandbox (print(1) and
# pandas + chart through the warm pool, against bare python3 measured in the same run).
bench-tools:
	bash scripts/setup.sh --services
	cargo run --release -p penny-queue --example bench
	cargo run --release -p penny-sandbox --example bench
