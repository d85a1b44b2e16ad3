#!/usr/bin/env bash
# Installs libturtle (shared and static), include/turtle.h, the pkg-config files
# turtle.pc (shared) and turtle-static.pc (static), and the `turtle` command under PREFIX.
# Usage: PREFIX=/usr/local [PROFILE=release|debug] tools/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:?set PREFIX, e.g. PREFIX=/usr/local}
profile=${PROFILE:-release}
if [ -n "${SKIP_BUILD:-}" ]; then
  : # the caller built it already
elif [ "$profile" = release ]; then
  cargo build --release -p turtle-ffi -p turtle-cli
else
  cargo build -p turtle-ffi -p turtle-cli
fi
version=$(sed -n 's/^#define TURTLE_VERSION "\(.*\)"$/\1/p' include/turtle.h)
target=${CARGO_TARGET_DIR:-target}/$profile
install -d "$prefix/lib/pkgconfig" "$prefix/include" "$prefix/bin"
install -m 0755 "$target/turtle" "$prefix/bin/turtle"
install -m 0755 "$target/libturtle.so" "$prefix/lib/libturtle.so"
install -m 0644 "$target/libturtle.a" "$prefix/lib/libturtle.a"
install -m 0644 include/turtle.h "$prefix/include/turtle.h"
# What the Rust standard library needs when linked statically (rustc --print native-static-libs).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
for kind in shared static; do
  if [ $kind = shared ]; then name=turtle; libs="-L\${libdir} -lturtle"; private="Libs.private: $static_libs"
  else name=turtle-static; libs="-L\${libdir} -l:libturtle.a $static_libs"; private=""; fi
  cat > "$prefix/lib/pkgconfig/$name.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: turtle-finder's C library: service discovery on etcd v3 ($kind)
Version: $version
Cflags: -I\${includedir}
Libs: $libs
$private
PC
done
echo "installed libturtle $version and the turtle command under $prefix"
