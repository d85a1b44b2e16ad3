#!/usr/bin/env bash
# Installs libturtle with cargo-c (`cargo cinstall`): libturtle.so.0.1.0 with its SONAME
# libturtle.so.0 and the links libturtle.so.0 and libturtle.so, libturtle.a, turtle.h and
# turtle.pc; then the `turtle` command. Built with the `dist` profile (no debug info,
# stripped); the static library's debug info (the standard library's) is stripped after
# installing.
# Usage: PREFIX=/usr/local [LIBDIR=$PREFIX/lib] [DESTDIR=/tmp/stage] tools/install.sh
#        tools/install.sh --build-only   (builds what an install takes, installs nothing)
# TURTLE_CLI=PATH installs that turtle binary instead of building one (the tests give the
# debug build's, which `make test` has built already: one optimized build less).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-cinstall >/dev/null || tools/setup.sh
host=$(rustc -vV | sed -n 's/^host: //p')
# What cargo-c builds; --build-only and the install must name the same, or both build.
capi=(-p turtle-ffi --profile dist --target "$host")
# The turtle command, built by this machine's cargo in a target directory of its own:
# cargo-c carries its own cargo, whose fingerprints differ (ConfigSettingsChanged), so in
# one directory each would rebuild every dependency the other built.
target=${CARGO_TARGET_DIR:-target}/dist-cargo
build_command() { cargo build --quiet -p turtle-cli --profile dist --target "$host" --target-dir "$target"; }
cli=${TURTLE_CLI:-}
if [ "${1:-}" = --build-only ]; then
  cargo cbuild "${capi[@]}"
  [ -n "$cli" ] || build_command
  exit
fi
prefix=${PREFIX:?set PREFIX, e.g. PREFIX=/usr/local}
libdir=${LIBDIR:-$prefix/lib}
destdir=${DESTDIR:-}
cargo cinstall "${capi[@]}" \
  --prefix "$prefix" --libdir "$libdir" ${destdir:+--destdir "$destdir"}
strip --strip-debug "$destdir$libdir/libturtle.a"
if [ -z "$cli" ]; then
  build_command
  cli=$target/$host/dist/turtle
fi
install -D -m 0755 "$cli" "$destdir$prefix/bin/turtle"
echo "installed libturtle $(sed -n 's/^#define TURTLE_VERSION "\(.*\)"$/\1/p' include/turtle.h) and the turtle command under $destdir$prefix"
