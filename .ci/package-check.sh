#!/usr/bin/env bash
# The published crates package, and build from their packages alone: what
# `cargo package -p shmkit -p shmkit-zenoh -p shmkit-cli -p shmkit-bridge` verifies, done
# more cheaply. cargo's own verification builds each package on its own, resolving features
# per package, which built Zenoh and its dependencies twice (4½ minutes here); this packages
# them without verifying, unpacks the four `.crate` files into one scratch workspace, each
# depending on the others' packaged sources (`[patch]`, as cargo's verification overlays
# them), and type-checks their libraries and programs in one `cargo check`: a file missing
# from a package, a path outside it or a dependency left undeclared fails here as it would
# there. (One build resolves features across the four, so a feature one package uses but
# only another enables would pass here; none of them enable features of each other's
# dependencies.)
set -euo pipefail
cd "$(dirname "$0")/.."
crates=(shmkit shmkit-zenoh shmkit-cli shmkit-bridge)
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "shmkit"))')
rm -f target/package/shmkit-*.crate
cargo package "${crates[@]/#/-p}" --allow-dirty --no-verify -q
dir=target/package-check
rm -rf "$dir/src" && mkdir -p "$dir/src"
members=() patches=()
for c in "${crates[@]}"; do
  tar -xzf "target/package/$c-$version.crate" -C "$dir/src"
  members+=("\"src/$c-$version\"")
  patches+=("$c = { path = \"src/$c-$version\" }")
done
{
  echo "[workspace]"
  echo "resolver = \"2\""
  echo "members = [$(IFS=,; echo "${members[*]}")]"
  echo "[patch.crates-io]"
  printf '%s\n' "${patches[@]}"
} >"$dir/Cargo.toml"
# The dependency versions the workspace is tested with.
cp Cargo.lock "$dir/"
CARGO_TARGET_DIR="$dir/target" cargo check --manifest-path "$dir/Cargo.toml" --workspace --bins --lib
