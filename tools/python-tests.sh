#!/usr/bin/env bash
# The Python face's tests: stubtest of the .pyi against the built module, and the pytest
# suite against real clusters (settings in tests/python/pytest.ini: warnings are errors,
# xfail is strict). Lint and types are tools/lint.sh's. Ends with
# "python: N passed, N failed"; fails when pytest ran no test.
set -uo pipefail
cd "$(dirname "$0")/.."
py=$(tools/python-env.sh) || exit 1
export PYTHONDONTWRITEBYTECODE=1 MYPY_CACHE_DIR=target/mypy-cache
status=0
"$py" -m mypy.stubtest turtle_finder --mypy-config-file python/pyproject.toml || status=1
log=$(mktemp)
# hypothesis keeps caches in a directory of its own: a temporary one, like every test file.
export HYPOTHESIS_STORAGE_DIRECTORY=$(mktemp -d)
trap 'rm -rf "$log" "$HYPOTHESIS_STORAGE_DIRECTORY"' EXIT
"$py" -m pytest -p no:cacheprovider -q -rs --timeout 120 tests/python 2>&1 | tee "$log"
pytest_status=${PIPESTATUS[0]}
# The whole suite again on etcd 3.5.1 (tools/etcd35.sh).
etcd35=$PWD/target/etcd-3.5.1/etcd
tools/etcd35.sh || status=1
echo "== the same suite on $("$etcd35" --version | head -1)"
ETCD_BIN=$etcd35 "$py" -m pytest -p no:cacheprovider -q -rs --timeout 120 tests/python 2>&1 \
  | tee -a "$log"
[ "${PIPESTATUS[0]}" -ne 0 ] && [ "$pytest_status" -eq 0 ] && pytest_status=1
# pytest -q ends each run with "N passed[, N failed] in Ts".
passed=$(grep -E ' in [0-9.]+s' "$log" | grep -Eo '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -E ' in [0-9.]+s' "$log" | grep -Eo '[0-9]+ (failed|error)' | awk '{s += $1} END {print s + 0}')
[ "$status" -ne 0 ] && failed=$((failed + 1)) && echo "python stub check failed" >&2
echo "python: ${passed} passed, ${failed} failed"
[ "$pytest_status" -ne 0 ] && exit "$pytest_status"   # includes 5: no test ran
exit "$status"
