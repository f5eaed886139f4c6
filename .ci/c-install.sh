#!/usr/bin/env bash
# The C library's install: build crates/shmkit-c with CMake (which runs cargo), install it into
# a temporary prefix, then build a small consumer (crates/shmkit-c/tests/install) against the
# installed files twice: with find_package(shmkit) (shared and static) and with
# `pkg-config --cflags --libs shmkit` (C and C++), and run every program.
# Arguments: more -D options for the library's configure step (.ci/run passes
# -DCMAKE_BUILD_TYPE=Debug -DSHMKIT_CARGO_TARGET_DIR=target, to reuse the test step's build
# instead of building shmkit in release again). CARGO_TARGET_DIR is not used.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v pkg-config >/dev/null || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== cmake: build and install into $prefix"
cmake -S crates/shmkit-c -B "$work/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$work/build"
cmake --install "$work/build" --prefix "$prefix" | sed "s|$prefix|<prefix>|"
libdir=$(ls -d "$prefix"/lib*/ | head -1)
libdir=${libdir%/}
for f in include/shmkit.h include/shmkit.hpp; do test -f "$prefix/$f"; done
for f in libshmkit_c.so libshmkit_c.a pkgconfig/shmkit.pc cmake/shmkit/shmkitConfig.cmake \
         cmake/shmkit/shmkitConfigVersion.cmake; do
  test -f "$libdir/$f"
done

echo "== find_package(shmkit)"
cmake -S crates/shmkit-c/tests/install -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
export LD_LIBRARY_PATH=$libdir
"$work/consumer/consumer_c"
"$work/consumer/consumer_cpp"
"$work/consumer/consumer_static"
# The static program does not need the shared library.
! ldd "$work/consumer/consumer_static" | grep -q shmkit_c
# A version that is not installed is refused.
cat > "$work/v.cmake" <<'CMAKE'
find_package(shmkit 99 QUIET)
if(shmkit_FOUND)
  message(FATAL_ERROR "find_package(shmkit 99) found version ${shmkit_VERSION}")
endif()
CMAKE
cmake -DCMAKE_PREFIX_PATH="$prefix" -P "$work/v.cmake"

echo "== pkg-config shmkit"
export PKG_CONFIG_PATH=$libdir/pkgconfig
echo "   $(pkg-config --modversion shmkit): $(pkg-config --cflags --libs shmkit | sed "s|$prefix|<prefix>|g")"
src=crates/shmkit-c/tests/install
# shellcheck disable=SC2046 # pkg-config's output is words
cc -std=c11 -Wall -Werror "$src/consumer.c" -o "$work/pc_c" $(pkg-config --cflags --libs shmkit)
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Werror "$src/consumer.cpp" -o "$work/pc_cpp" $(pkg-config --cflags --libs shmkit)
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror "$src/consumer.c" -o "$work/pc_static" \
  $(pkg-config --cflags shmkit) "$libdir/libshmkit_c.a" $(pkg-config --static --libs-only-l shmkit | sed 's/-lshmkit_c//')
"$work/pc_c"
"$work/pc_cpp"
"$work/pc_static"

# cargo-c, where it is installed (`cargo install cargo-c --version 0.10.24` for Rust 1.95: it
# builds cargo itself, about 20 minutes on 2 cores, so this script does not install it; Debian's
# cargo-c 0.9 cannot read the lock file): `cargo cinstall` from [package.metadata.capi] gives
# the same library, headers and shmkit.pc.
if command -v cargo-cinstall >/dev/null; then
  echo "== cargo cinstall"
  cargo cinstall -p shmkit-c --release --prefix "$work/cprefix" --libdir lib \
    --target-dir "$work/capi" >"$work/cinstall.log" 2>&1 || { cat "$work/cinstall.log"; exit 1; }
  for f in include/shmkit.h include/shmkit.hpp lib/libshmkit_c.so lib/libshmkit_c.a lib/pkgconfig/shmkit.pc; do
    test -f "$work/cprefix/$f"
  done
  # shellcheck disable=SC2046
  c++ -std=c++17 -Wall -Werror "$src/consumer.cpp" -o "$work/capi_cpp" \
    $(PKG_CONFIG_PATH=$work/cprefix/lib/pkgconfig pkg-config --cflags --libs shmkit)
  LD_LIBRARY_PATH=$work/cprefix/lib "$work/capi_cpp"
fi
cd "$root"
echo "c-install: ok"
