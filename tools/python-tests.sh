#!/usr/bin/env bash
# The Python face's checks: ruff (lint and format), mypy --strict on the package and the
# tests, stubtest of the .pyi against the built module, and the pytest suite against real
# clusters. Ends with "python: N passed, N failed"; fails when pytest ran no test.
set -uo pipefail
cd "$(dirname "$0")/.."
py=$(tools/python-env.sh) || exit 1
bin=$(dirname "$py")
export PYTHONDONTWRITEBYTECODE=1 RUFF_CACHE_DIR=target/ruff-cache MYPY_CACHE_DIR=target/mypy-cache
sources=(python/turtle_finder tests/python examples/python bench/python_bench.py)
# The seed's program is kept exactly as the seed wrote it (2-space indents and all).
ruff_args=(--config python/pyproject.toml --exclude examples/python/seed_example.py)
status=0
"$bin/ruff" check "${ruff_args[@]}" "${sources[@]}" || status=1
"$bin/ruff" format --check "${ruff_args[@]}" "${sources[@]}" || status=1
"$bin/mypy" --config-file python/pyproject.toml python/turtle_finder tests/python examples/python/watch.py || status=1
"$py" -m mypy.stubtest turtle_finder --mypy-config-file python/pyproject.toml || status=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$py" -m pytest -p no:cacheprovider -q -rs --timeout 120 tests/python 2>&1 | tee "$log"
pytest_status=${PIPESTATUS[0]}
passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '[0-9]+ (failed|error)' "$log" | awk '{s += $1} END {print s + 0}')
[ "$status" -ne 0 ] && failed=$((failed + 1)) && echo "python lint/type/stub checks failed" >&2
echo "python: ${passed} passed, ${failed} failed"
[ "$pytest_status" -ne 0 ] && exit "$pytest_status"   # includes 5: no test ran
exit "$status"
