#!/usr/bin/env bash
# Type-check the workspace (all targets; not the Python extension, which needs a macOS Python
# to build against) for macOS on Intel, and the libraries on Apple silicon, with Debian's
# rustc-web + rust-web-src and -Zbuild-std (rustup cannot fetch targets here). The workspace
# build has shmkit's `tokio` feature on (the benchmark crate asks for it), so `shmkit::aio`
# is checked too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=(rustc-web cargo-web rust-web-src)
if ! dpkg -s "${need[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
check() {
  echo "--- cargo check --target $*"
  RUSTFLAGS="-D warnings" /usr/bin/cargo check -Zbuild-std --target-dir target/mac --target "$@"
}
check x86_64-apple-darwin --workspace --all-targets --exclude shmkit-py --exclude shmkit-zenoh \
  --exclude shmkit-bridge --no-default-features
# Apple silicon: the libraries only. No code of the workspace depends on the CPU architecture
# (nothing is `cfg(target_arch)`), so the tests, benchmarks and CLI, checked for Intel above,
# would be the same code again (a minute and a half of CI).
check aarch64-apple-darwin -p shmkit -p shmkit-c --lib
