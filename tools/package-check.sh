#!/usr/bin/env bash
# The packages as users get them. Builds the sdist and, from it with pip (as `pip install`
# of the sdist does), the wheel (tools/dist.sh) into a temporary directory, then checks: the
# wheel's manylinux policy (auditwheel, no newer than manylinux_2_28); both packages'
# metadata and readme (twine check --strict); the wheel installed with `pip install
# --no-index` into a fresh venv, passing the Python suite's lookup and watch tests; the
# Rust crate packaged (`cargo package`) and its docs built with warnings as errors.
# Ends with "package: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
passed=0 failed=0
check() { # check NAME COMMAND...: runs COMMAND, counts it, says which failed
  echo "-- $1"
  if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "-- FAILED: $1" >&2; fi
}

[ -x target/venv/bin/auditwheel ] || tools/python-env.sh >/dev/null || exit 1
check "build the sdist, and the wheel from it with pip" tools/dist.sh "$tmp/dist"
wheel=$(ls "$tmp"/dist/turtle_finder-*.whl 2>/dev/null)
sdist=$(ls "$tmp"/dist/turtle_finder-*.tar.gz 2>/dev/null)

manylinux_2_28_or_older() {
  local shown policy
  shown=$(target/venv/bin/auditwheel show "$wheel") || return 1
  echo "$shown"
  policy=$(echo "$shown" | tr -d '\n' | grep -Eo 'consistent with the following platform tag: *"manylinux_2_[0-9]+' | grep -Eo '[0-9]+$')
  [ -n "$policy" ] && [ "$policy" -le 28 ] && [[ $(basename "$wheel") == *manylinux2014_x86_64* ]]
}
check "auditwheel: manylinux_2_28 or older" manylinux_2_28_or_older
check "twine check --strict: metadata and readme" target/venv/bin/twine check --strict "$wheel" "$sdist"

# A fresh venv with pytest, the package installed as INSTALL says, and the lookup and
# watch tests run from outside the source tree against the installed package.
suite_on() { # suite_on NAME PIP-INSTALL-ARGS...
  local venv=$tmp/$1
  python3 -m venv "$venv" \
    && "$venv/bin/pip" install -q "$(grep '^pytest==' python/requirements-dev.txt)" \
      "$(grep '^pytest-timeout==' python/requirements-dev.txt)" \
    && "$venv/bin/pip" install -q "${@:2}" \
    && (cd "$tmp" && "$venv/bin/python" -c '
import turtle_finder as tf
assert "site-packages" in tf.__file__, tf.__file__
print("installed:", tf.__file__, tf.__version__)') \
    && (cd "$tmp" && "$venv/bin/python" -m pytest -p no:cacheprovider -q --timeout 120 \
      "$root/tests/python/test_lookup.py" "$root/tests/python/test_watch.py")
}
# The wheel is what pip made of the sdist (tools/dist.sh: an isolated build, from scratch),
# so this also checks what `pip install` of the sdist does: build it, then install that.
check "the wheel pip built from the sdist, pip install --no-index, lookup and watch tests" \
  suite_on wheel-venv --no-index "$wheel"
check "cargo package -p turtle-finder" cargo package -q -p turtle-finder --allow-dirty
check "cargo doc -p turtle-finder, warnings are errors" \
  env RUSTDOCFLAGS="-D warnings" cargo doc -q -p turtle-finder --no-deps

echo "package: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
