# turtle-finder's task runner. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help setup demo test test-rust test-python bench bench-python lint fmt header install ci

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install etcd, etcdctl and protoc with apt when missing
	@tools/setup.sh

demo: setup ## Start a local 3-member cluster; lookup, watch, kill the member in use, carry on
	$(CARGO) run --quiet -p turtle-examples --bin demo

test: setup ## Run every test: Rust, C and Python (what CI runs)
	tools/test-all.sh

test-rust: ## Rust unit, doc and integration tests, and the C tests through libturtle
	$(CARGO) build --workspace --all-targets
	tools/cargo-test.sh

test-python: ## The Python wheel's lint, type and stub checks and its pytest suite
	$(CARGO) build -p turtle-tests
	tools/python-tests.sh

bench: setup ## The benchmark: raw etcd-client vs turtle-finder on one cluster, failover gaps
	$(CARGO) run --release -p turtle-bench

bench-python: setup ## The Python benchmark: turtle_finder vs the Rust API, python-etcd3 and python-etcd
	$(CARGO) build --release -p turtle-bench -p turtle-tests
	PROFILE=release tools/python-env.sh >/dev/null
	target/venv/bin/pip install -q --disable-pip-version-check -r python/requirements-bench.txt
	TURTLE_CLUSTER_BIN=target/release/turtle-cluster PYTHONDONTWRITEBYTECODE=1 target/venv/bin/python bench/python_bench.py

lint: ## cargo fmt --check, clippy with warnings as errors, ruff and mypy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	tools/python-env.sh >/dev/null
	RUFF_CACHE_DIR=target/ruff-cache target/venv/bin/ruff check --config python/pyproject.toml --exclude examples/python/seed_example.py python/turtle_finder tests/python examples/python bench/python_bench.py
	MYPY_CACHE_DIR=target/mypy-cache target/venv/bin/mypy --config-file python/pyproject.toml python/turtle_finder tests/python examples/python/watch.py

header: ## Regenerate include/turtle.h with cbindgen (commit it)
	TURTLE_BLESS=1 $(CARGO) test -p turtle-ffi --test header

install: ## Install libturtle, turtle.h and pkg-config files: make install PREFIX=/usr/local
	PREFIX=$(PREFIX) tools/install.sh

fmt: ## Format the Rust code
	$(CARGO) fmt --all

ci: test ## What .ci/run does
