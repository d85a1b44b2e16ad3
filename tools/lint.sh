#!/usr/bin/env bash
# Style and type checks of every language, run by `make lint` and by `make test` (CI):
# core's module layers (tools/check-layers.py), functions of at most 60 lines (tools/check-lengths.py), rustfmt, clippy with warnings as errors (the workspace's [lints] deny missing docs),
# ruff (lint and format) and mypy --strict. Needs target/venv (tools/python-env.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x target/venv/bin/ruff ] || tools/python-env.sh >/dev/null || exit 1
export RUFF_CACHE_DIR=target/ruff-cache MYPY_CACHE_DIR=target/mypy-cache
sources=(python/turtle_finder tests/python examples/python bench/python_bench.py bench/metrics_flood.py)
# The seed's program is kept exactly as the seed wrote it (2-space indents and all).
ruff_args=(--config python/pyproject.toml --exclude examples/python/seed_example.py)
status=0
step() {
  echo "-- $*"
  "$@" || { echo "lint: $* failed" >&2; status=1; }
}
step python3 tools/check-layers.py
step python3 tools/check-lengths.py
step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step target/venv/bin/ruff check "${ruff_args[@]}" "${sources[@]}"
step target/venv/bin/ruff format --check "${ruff_args[@]}" "${sources[@]}"
step target/venv/bin/mypy --config-file python/pyproject.toml python/turtle_finder tests/python examples/python/watch.py
exit "$status"
