# turtle-finder's task runner. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help setup demo test test-rust bench lint fmt header install ci

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install etcd, etcdctl and protoc with apt when missing
	@tools/setup.sh

demo: setup ## Start a local 3-member cluster; lookup, watch, kill the member in use, carry on
	$(CARGO) run --quiet -p turtle-examples --bin demo

test: setup test-rust ## Run every test (what CI runs)

test-rust: ## Rust unit, doc and integration tests against real etcd clusters
	$(CARGO) build --workspace --all-targets
	tools/cargo-test.sh

bench: setup ## The benchmark: raw etcd-client vs turtle-finder on one cluster, failover gaps
	$(CARGO) run --release -p turtle-bench

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

header: ## Regenerate include/turtle.h with cbindgen (commit it)
	TURTLE_BLESS=1 $(CARGO) test -p turtle-ffi --test header

install: ## Install libturtle, turtle.h and pkg-config files: make install PREFIX=/usr/local
	PREFIX=$(PREFIX) tools/install.sh

fmt: ## Format the Rust code
	$(CARGO) fmt --all

ci: test ## What .ci/run does
