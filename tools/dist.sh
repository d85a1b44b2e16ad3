#!/usr/bin/env bash
# Builds what `pip install turtle-finder` takes into OUT (default dist/): the abi3 wheel,
# linked by zig against glibc 2.17 so that it is tagged manylinux2014 and installs on
# every glibc-based Linux of the last ten years, and the sdist.
# Usage: tools/dist.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
venv=$PWD/target/venv
[ -x "$venv/bin/maturin" ] || tools/python-env.sh >/dev/null
# maturin finds zig as `python -m ziglang` (from requirements-dev.txt) on PATH. A target
# directory of its own: zig as the C compiler would otherwise rebuild what cargo-c built.
PATH=$venv/bin:$PATH CARGO_TARGET_DIR=$PWD/target/zig \
  maturin build -q --profile dist --zig --compatibility manylinux2014 -m python/Cargo.toml -o "$out"
"$venv/bin/maturin" sdist -m python/Cargo.toml -o "$out"
ls -l "$out"
