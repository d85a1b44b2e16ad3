#!/usr/bin/env bash
# Every test of the project, in order: style and types of every language (tools/lint.sh),
# Rust (unit, doc, integration, C through libturtle and its install), Python (stubs,
# pytest) and the packages (wheel, sdist, crate: tools/package-check.sh). Each step ends
# with a line "<step>: N passed, N failed"; this script ends with their sum on one line.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Everything is built before any test runs (debug, and cargo-c's optimized libturtle, which a
# C test installs with the debug build's turtle command), so no build competes with a test
# for the two cores. The wheel's optimized build is the package check's (from the sdist).
# Each step's time is printed after it.
export TURTLE_CLI=$PWD/target/debug/turtle
for step in "cargo build --workspace --all-targets" "tools/install.sh --build-only" tools/lint.sh \
  tools/cargo-test.sh tools/python-tests.sh tools/package-check.sh; do
  echo "== $step"
  started=$SECONDS
  $step 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  echo "== $step took $((SECONDS - started)) s"
  if [ "$rc" -ne 0 ]; then
    echo "== $step failed with exit code $rc" >&2
    status=1
  fi
done
read -r passed failed < <(grep -E '^(rust|python|package): [0-9]+ passed, [0-9]+ failed$' "$log" \
  | awk '{p += $2; f += $4} END {print p + 0, f + 0}')
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "all: ${passed} passed, ${failed} failed"
exit "$status"
