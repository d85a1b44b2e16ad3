# turtle-finder's task runner. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help setup demo test test-loaded test-rust test-python bench bench-python lint fmt header install wheel ci

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## Install with apt what is missing: etcd, etcdctl, protoc and its protos, a C compiler, pkg-config, python3-venv, dnsmasq, prometheus
	@tools/setup.sh

demo: setup ## Start a local 3-member cluster; lookup, watch, kill the member in use, carry on
	$(CARGO) run --quiet -p turtle-examples --bin demo

test: setup ## Lint, then run every test: Rust, C and Python (what CI runs)
	tools/test-all.sh

test-loaded: setup ## make test with two CPU-bound busy loops beside it (a busy CI machine)
	tools/test-loaded.sh

test-rust: ## Rust unit, doc and integration tests, and the C tests through libturtle
	$(CARGO) build --workspace --all-targets
	tools/cargo-test.sh

test-python: ## The Python wheel's stub check and its pytest suite
	$(CARGO) build -p turtle-tests
	tools/python-tests.sh

bench: setup ## The benchmark: raw etcd-client vs turtle-finder on one cluster, failover gaps
	$(CARGO) run --release -p turtle-bench

bench-python: setup ## The Python benchmark: turtle_finder vs the Rust API, python-etcd3 and python-etcd
	$(CARGO) build --release -p turtle-bench -p turtle-tests
	PROFILE=release tools/python-env.sh >/dev/null
	target/venv/bin/pip install -q --disable-pip-version-check -r python/requirements-bench.txt
	TURTLE_CLUSTER_BIN=target/release/turtle-cluster PYTHONDONTWRITEBYTECODE=1 target/venv/bin/python bench/python_bench.py

lint: ## rustfmt check, clippy (warnings and missing docs are errors), ruff and mypy --strict (part of make test)
	tools/lint.sh

header: ## Regenerate include/turtle.h with cbindgen and the README's settings table from core's (commit both)
	TURTLE_BLESS=1 $(CARGO) test -p turtle-ffi --test header
	TURTLE_BLESS=1 $(CARGO) test -p turtle-finder --lib settings::tests::readme_table_is_the_table

install: setup ## Install libturtle.so.0 and .a, turtle.h, turtle.pc (cargo-c) and the turtle command: make install PREFIX=/usr/local [LIBDIR=...] [DESTDIR=...]
	PREFIX=$(PREFIX) tools/install.sh

wheel: setup ## Build the manylinux2014 abi3 wheel and the sdist into dist/
	tools/dist.sh dist

fmt: ## Format the Rust code
	$(CARGO) fmt --all

ci: test ## What .ci/run does
