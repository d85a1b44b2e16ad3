#!/usr/bin/env bash
# Builds what `pip install turtle-finder` takes into OUT (default dist/): the sdist, and the
# abi3 wheel built from it by pip (as a user's pip builds an sdist: an isolated build with
# maturin from PyPI), linked by zig against glibc 2.17 so that it is tagged manylinux2014
# and installs on every glibc-based Linux of the last ten years.
# Usage: tools/dist.sh [OUT]
# tools/dist.sh --env prints the environment that build uses, for other builds of the sdist
# (the package check's `pip install` of it) to share its target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/target/venv
[ -x "$venv/bin/maturin" ] || tools/python-env.sh >/dev/null
# The isolated build's maturin is told where zig is: the binary of the ziglang package in
# target/venv (requirements-dev.txt). The target directory is zig's own, since zig as the C
# compiler rebuilds what the host's cc built.
zig=$("$venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
env=(
  "MATURIN_PEP517_ARGS=--zig --compatibility manylinux2014"
  "CARGO_ZIGBUILD_ZIG_PATH=$zig"
  "CARGO_TARGET_DIR=$PWD/target/zig"
)
if [ "${1:-}" = --env ]; then
  printf '%s\n' "${env[@]}"
  exit
fi
out=${1:-dist}
mkdir -p "$out"
"$venv/bin/maturin" sdist -m python/Cargo.toml -o "$out"
sdist=$(ls "$out"/turtle_finder-*.tar.gz)
env "${env[@]}" "$venv/bin/pip" wheel -q --disable-pip-version-check --no-deps -w "$out" "$sdist"
ls -l "$out"
