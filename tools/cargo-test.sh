#!/usr/bin/env bash
# Runs the workspace's Rust tests and closes with one summary line, "rust: N passed, N failed",
# so the last line speaks for the whole run (cargo's own last line is the last binary's).
# Fails when no test ran at all.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r passed failed < <(awk '/^test result:/ {p += $4; f += $6} END {print p+0, f+0}' "$log")
echo "rust: ${passed} passed, ${failed} failed"
if [ "$passed" -eq 0 ]; then
  echo "no Rust test ran" >&2
  exit 1
fi
exit "$status"
