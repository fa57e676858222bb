#!/usr/bin/env bash
# Builds the README's "Use mpiview in your own crate" driver as a crate of its own, outside this
# workspace (depending on the runtime by path), and runs it on 3 ranks: the runtime alone must be
# enough to build a program on it.
#
#   bash scripts/out-of-tree.sh            # in a temporary directory, removed afterwards
#   OUT_OF_TREE_DIR=/some/dir bash ...     # keep the crate there
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "out-of-tree: $*" >&2; }

dir=${OUT_OF_TREE_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d /tmp/mpiview-out-of-tree.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir/src"

# The driver is the first Rust block of the README's section, so the README shows what runs.
awk '/^## Use mpiview in your own crate/ {in_section = 1}
     in_section && /^```rust/ {in_code = 1; next}
     in_code && /^```/ {exit}
     in_code {print}' "$repo/README.md" > "$dir/src/main.rs"
[ -s "$dir/src/main.rs" ] || { say "error: no Rust block in the README's section"; exit 1; }

cat > "$dir/Cargo.toml" <<TOML
[package]
name = "my-driver"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
mpiview = { path = "$repo" }
TOML
# The workspace's lock file pins the same versions (cargo drops what this crate does not use).
cp "$repo/Cargo.lock" "$dir/Cargo.lock"

# Its own target directory: nothing of the workspace's build is reused or disturbed. The README's
# command, timed: a cold build of the runtime alone should take under 2 minutes here.
say "building $dir (cargo build --release)"
start=$(date +%s)
(cd "$dir" && cargo build --release --quiet)
say "built in $(($(date +%s) - start)) s"
say "running on 3 ranks"
out=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
  timeout 120 "${MPIEXEC:-mpiexec}" -n 3 "$dir/target/release/my-driver")
printf '%s\n' "$out"
grep -qx "sum of squares: 328350" <<<"$out" || { say "error: wrong sum"; exit 1; }
[ "$(grep -c '^engine [01] of 2$' <<<"$out")" = 2 ] || { say "error: not two engines"; exit 1; }
say "ok"
