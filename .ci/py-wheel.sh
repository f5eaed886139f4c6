#!/usr/bin/env bash
# The Python package as a user without Rust gets it: a wheel built from ./crates/shmkit-py the
# README's way (pip runs maturin on the source tree; abi3, one wheel for CPython >= 3.11;
# maturin's manylinux audit on), installed into a fresh venv with no cargo, rustc or rustup
# reachable on PATH, then the package's tests against it (real processes; the CLI, the C
# library and the Rust examples the test step built are the other languages' peers), and a
# benchmark smoke run (numbers not meaningful).
#
# manylinux_2_34 is what this Debian 12 build reaches (glibc symbols up to GLIBC_2.34: Debian
# 12+, Ubuntu 22.04+, RHEL 9+). An older tag needs an older glibc to link against: zig
# (maturin --zig) links one, but its wheel carries its own unwinder, and a thread that CPython
# ends with pthread_exit while it waits in shmkit (a daemon thread at exit) crashed there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=target/py-build venv=target/py-venv wheels=target/wheels norust=target/py-no-rust
rm -rf "$build" "$venv" "$wheels" "$norust"

python3 -m venv "$build"
"$build/bin/pip" install -q --upgrade pip
MATURIN_PEP517_ARGS="--compatibility manylinux_2_34" \
  "$build/bin/pip" wheel -q --no-deps -w "$wheels" ./crates/shmkit-py
wheel=$(ls "$wheels"/shmkit-*-cp311-abi3-manylinux_2_34_x86_64.whl)
echo "built $wheel"

python3 -m venv "$venv"
# uvloop: the asyncio tests run on its event loop too (they skip only where it is missing).
"$venv/bin/pip" install -q pytest numpy mcap uvloop

# A PATH of everything on the machine's but the Rust toolchain.
mkdir -p "$norust"
for f in /usr/local/bin/* /usr/bin/* /bin/*; do
  case "${f##*/}" in
    cargo* | rustc* | rustdoc* | rustup* | rust-gdb* | rust-lldb* | rustfmt* | clippy-driver) ;;
    *) [ -e "$norust/${f##*/}" ] || ln -s "$f" "$norust/" ;;
  esac
done
export PATH="$root/$venv/bin:$root/$norust"
for tool in cargo rustc rustup; do
  if command -v "$tool" >/dev/null; then
    echo "py-wheel.sh: $tool is still on PATH" >&2
    exit 1
  fi
done

pip install -q --no-index "$wheel"
(cd crates/shmkit-py && SHMKIT_CLI="$root/target/debug/shmkit" \
  SHMKIT_C_LIB_DIR="$root/target/debug" SHMKIT_EXAMPLES_DIR="$root/target/debug/examples" \
  python -m pytest -q -p no:cacheprovider)
(cd "$venv" && bin/python -m shmkit.bench --quick)
