#!/usr/bin/env bash
# Runs the workspace's Rust tests with cargo-nextest (settings in .config/nextest.toml: a
# process per test, per-test timeouts, no retries), a part of them again on etcd 3.5, then
# the doctests (nextest does not
# run those), and closes with one summary line, "rust: N passed, N failed". Fails when no
# test ran at all.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo nextest run --workspace --no-fail-fast --no-tests=fail "$@" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# The whole integration suite (the C tests too) again on etcd 3.5.1 (tools/etcd35.sh puts
# it in target/; `make setup` runs that), but the mixed 3.4/3.5 cluster, which is both
# already, and the installed-package checks, which do not depend on etcd.
etcd35=$PWD/target/etcd-3.5.1/etcd
tools/etcd35.sh || status=1
echo "== the same suites on $("$etcd35" --version | head -1)"
ETCD_BIN=$etcd35 cargo nextest run -p turtle-tests --test integration --no-fail-fast \
  --no-tests=fail -E 'all() - test(installed) - test(a_mixed)' \
  2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
cargo test --workspace --doc 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# nextest: "Summary [ 1.2s] 120 tests run: 119 passed, 1 failed, 0 skipped"; doctests:
# "test result: ok. 8 passed; 0 failed; ...".
read -r passed failed < <(awk '
  /^ *Summary \[/ { for (i = 1; i <= NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
  /^test result:/ { p += $4; f += $6 }
  END { print p + 0, f + 0 }' "$log")
echo "rust: ${passed} passed, ${failed} failed"
if [ "$passed" -eq 0 ]; then
  echo "no Rust test ran" >&2
  exit 1
fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
