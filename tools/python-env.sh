#!/usr/bin/env bash
# Makes target/venv (a virtualenv with the pinned dev tools of python/requirements-dev.txt)
# and installs the turtle-finder wheel into it, built by maturin into target/wheels from
# the shared target/ (debug unless PROFILE=release). Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-dev.txt >&2
# An explicit profile: pyproject.toml's is `dist`, for release wheels and sdist installs.
profile=dev
[ "${PROFILE:-debug}" = release ] && profile=release
rm -rf target/wheels/dev
"$venv/bin/maturin" build -q --profile "$profile" -m python/Cargo.toml -o target/wheels/dev >&2
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps target/wheels/dev/*.whl >&2
echo "$venv/bin/python"
