#!/usr/bin/env bash
# The integration suite under valgrind's memcheck: invalid reads and writes, use after free
# and uninitialised reads in everything the tests do in-process (child processes run
# natively). This stands in for miri, which needs a rustup component this machine cannot
# fetch. It cannot see past the edges of a mapping's bytes (all of a mapping is addressable to
# memcheck); the header checks that keep ring offsets in bounds are tested directly.
#
# rustix's raw-syscall backend reads the vDSO's ELF header through the aux vector, which
# valgrind does not map (rustix#1559), so this build uses rustix's libc backend.
# With the `tokio` feature, so that the async reactor's raw-pointer code runs under memcheck
# too (valgrind does not know `futex_waitv`, so waits take the polling fallback there).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg rustix_use_libc" CARGO_TARGET_DIR=target/valgrind
cargo test -p shmkit --features tokio --no-run
bin=$(cargo test -p shmkit --features tokio --test it --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
# The million-message stress test and the 100 MiB streams between pid namespaces take minutes
# under valgrind and add no code path the other channel and liveness tests do not run;
# proptest cases are cut for the same reason. The seams matrix (`seams::`) asserts delivery
# within 2 s and the waiting thread's CPU share, which valgrind's slowdown breaks; its code
# paths are the other modules' waits.
PROPTEST_CASES=32 valgrind --error-exitcode=99 --quiet "$bin" \
  --skip a_million_messages --skip streams_cross_pid_namespaces --skip seams:: --test-threads=2
# The C API's test programs (crates/shmkit-c/tests/c), every process of them under memcheck
# (`--trace-children`), failing on a memory error or a definite leak.
SHMKIT_C_VALGRIND=1 cargo test -p shmkit-c --test c
