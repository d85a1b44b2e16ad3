#!/usr/bin/env bash
# Makes target/venv (a virtualenv with the pinned dev tools of python/requirements-dev.txt)
# and installs turtle-finder into it with `maturin develop`, built in the shared target/
# (debug unless PROFILE=release). Prints the venv's python.
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
VIRTUAL_ENV=$PWD/$venv "$venv/bin/maturin" develop -q --profile "$profile" -m python/Cargo.toml >&2
echo "$venv/bin/python"
