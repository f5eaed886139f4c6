#!/usr/bin/env bash
# Type-check the workspace (all targets; not the Python extension, which needs a macOS Python
# to build against) for macOS, Intel and Apple silicon, with Debian's
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
for target in x86_64-apple-darwin aarch64-apple-darwin; do
  echo "--- cargo check --target $target"
  RUSTFLAGS="-D warnings" /usr/bin/cargo check -Zbuild-std --target "$target" --target-dir target/mac \
    --workspace --all-targets --exclude shmkit-py --exclude shmkit-zenoh --exclude shmkit-bridge \
    --no-default-features
done
