#!/usr/bin/env bash
# The C API on Windows: cross-builds crates/shmkit-c for x86_64-pc-windows-gnu (shmkit_c.dll and
# its import library) with the toolchain of .ci/wine-env.sh (Debian's rustc-web +
# -Zbuild-std, mingw-w64, Wine 8 and its bcryptprimitives.dll shim), compiles every C and C++
# test program in crates/shmkit-c/tests/c and every example in crates/shmkit-c/examples with
# mingw against it, and runs each under Wine with the DLL beside it. Fails on any failure.
# Arguments: test program names to run (default: all, and the example pairs), e.g.
# `segment cpp_wrapper`.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

WINE_NEED_CXX=1 source .ci/wine-env.sh

target=x86_64-pc-windows-gnu
"$CARGO_DEB" build -Zbuild-std --target $target --target-dir target/win -p shmkit-c
lib=target/win/$target/debug
out=target/win/c-tests
mkdir -p "$out"
cp "$lib/shmkit_c.dll" "$out/"

crate=crates/shmkit-c
# The test programs are the ones tests/c.rs runs (its c_tests! list: `name => "file.c",`);
# programs there that other tests drive (a C side of a cross-language test) are only compiled.
declare -A sources=()
mapfile -t listed < <(sed -n 's/^ *[a-z_0-9]* => "\([^"]*\)",$/\1/p' "$crate/tests/c.rs")
for f in "${listed[@]}"; do sources[$(basename "${f%.*}")]=$crate/tests/c/$f; done
# Every example is compiled; the pairs below run.
declare -A examples=()
for f in "$crate"/examples/c/*.c "$crate"/examples/cpp/*.cpp; do
  [ -e "$f" ] && examples[$(basename "${f%.*}")]=$f
done
pairs=("server client" "client server" "typed_pub typed_sub")

compile() { # <source> <exe>
  local src=$1 exe=$2
  local flags=(-g -Wall -Wextra -Werror -I "$crate/include" -I "$crate/tests/c")
  if [[ $src == *.cpp ]]; then
    # The posix thread model (std::thread); libstdc++, libgcc and winpthread linked in: the
    # programs need no mingw DLL but shmkit_c.dll.
    # shmkit_c through its import library (named: -static would pick the static library).
    x86_64-w64-mingw32-g++-posix -std=c++17 "${flags[@]}" "$src" -o "$exe" "$lib/libshmkit_c.dll.a" -static
  else
    x86_64-w64-mingw32-gcc -std=c11 "${flags[@]}" "$src" -o "$exe" -L "$lib" -lshmkit_c -static-libgcc
  fi
}

# The examples run as a pair (crates/shmkit-c/tests/examples.rs does the same on Linux).
run_examples() { # <first> <second>: starts <first>, runs <second>, both must exit 0
  local a=$1 b=$2 name="wine-example-$$-$a"
  (cd "$out" && "$WINE" "$a.exe" "$name") > "$out/$a.log" 2>&1 &
  local pid=$!
  (cd "$out" && "$WINE" "$b.exe" "$name") > "$out/$b.log" 2>&1 || { cat "$out/$a.log" "$out/$b.log"; kill "$pid"; return 1; }
  wait "$pid" || { cat "$out/$a.log" "$out/$b.log"; return 1; }
  cat "$out/$b.log"
}

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${!sources[@]}")
failed=()
for n in "${!examples[@]}"; do
  compile "${examples[$n]}" "$out/$n.exe" || failed+=("example $n (compile)")
done
for n in $(printf '%s\n' "${selected[@]}" | sort); do
  [ -n "${sources[$n]:-}" ] || { echo "c-wine: no test program $n"; exit 2; }
  compile "${sources[$n]}" "$out/$n.exe" || { failed+=("$n (compile)"); continue; }
  t=$SECONDS
  if (cd "$out" && timeout 300 "$WINE" "$n.exe"); then
    echo "ok   $n ($((SECONDS - t)) s)"
  else
    echo "FAIL $n"
    failed+=("$n")
  fi
done
if [ $# -eq 0 ]; then
  for pair in "${pairs[@]}"; do
    read -r a b <<<"$pair"
    [ -f "$out/$a.exe" ] && [ -f "$out/$b.exe" ] || { failed+=("$a + $b (not built)"); continue; }
    if run_examples "$a" "$b"; then echo "ok   $a + $b"; else echo "FAIL $a + $b"; failed+=("$a + $b"); fi
  done
fi
/usr/lib/wine/wineserver -k || true
echo "c-wine: $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "c-wine: failed: ${failed[*]}"
  exit 1
fi
