#!/usr/bin/env bash
# The README's Rust examples, built as a user's crate would build them: a separate crate,
# outside the workspace, whose only dependency is the one the README tells a user to add
# (shmkit by path; with its `tokio` feature, which the README names). The workspace's
# own doctests cannot catch an example that needs a crate the user does not have (rustdoc
# sees shmkit's dependencies there): this does. The examples run as this crate's doctests
# (`no_run` ones are compiled only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=$root/target/readme-crate
rm -rf "$dir"
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "shmkit-readme-examples"
version = "0.0.0"
edition = "2021"
publish = false

# Its own workspace: not a member of shmkit's.
[workspace]

[dependencies]
shmkit = { path = "$root/crates/shmkit", features = ["tokio"] }
TOML
cp README.md "$dir/README.md"
echo '#![doc = include_str!("../README.md")]' > "$dir/src/lib.rs"
# The workspace's lock file pins every version the examples' dependencies resolve to.
cp Cargo.lock "$dir/Cargo.lock"
CARGO_TARGET_DIR=$root/target cargo test --manifest-path "$dir/Cargo.toml" --doc
