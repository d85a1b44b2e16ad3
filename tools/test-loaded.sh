#!/usr/bin/env bash
# The whole suite (tools/test-all.sh) while two CPU-bound processes run beside it, as on a
# busy CI machine: a test that only passes on an idle machine tests the scheduler, not the
# product. The two busy loops are this script's children, ended by PID when it ends.
set -uo pipefail
cd "$(dirname "$0")/.."
hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${hogs[@]}" 2>/dev/null
}
trap stop_hogs EXIT
for _ in 1 2; do
  bash -c 'while :; do :; done' &
  hogs+=("$!")
done
echo "== two busy loops running beside the suite: pids ${hogs[*]}"
tools/test-all.sh
