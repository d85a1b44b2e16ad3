#!/usr/bin/env bash
# `maturin build --release` gives a wheel that installs into a fresh virtualenv and
# imports there. Ends with "wheel: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
maturin=target/venv/bin/maturin
[ -x "$maturin" ] || tools/python-env.sh >/dev/null || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok=0
if "$maturin" build -q --release -m python/Cargo.toml -o "$tmp/wheels" \
  && python3 -m venv "$tmp/venv" \
  && "$tmp/venv/bin/pip" install -q --disable-pip-version-check "$tmp"/wheels/turtle_finder-*.whl \
  && (cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 TURTLE_ENDPOINTS=127.0.0.1:1 "$tmp/venv/bin/python" -c '
import turtle_finder as tf
assert tf.__version__ and "ServiceFinder" in tf.__all__
try:
    tf.ServiceFinder().get_service("cdd", timeout=0.3)
except tf.UnavailableError as e:
    print("wheel imports and runs:", e)
'); then
  ok=1
fi
ls "$tmp"/wheels 2>/dev/null
echo "wheel: ${ok} passed, $((1 - ok)) failed"
[ "$ok" -eq 1 ]
