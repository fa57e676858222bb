#!/usr/bin/env bash
# The whole test suite: installs missing system packages, then runs every test (unit tests,
# multi-rank tests under mpiexec at 1, 2, 3, 5 and 17 ranks, examples, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_NO_BUILD=1 bash scripts/setup.sh
# The example binaries the tests launch (`cargo test --all-targets` builds examples only as test
# harnesses).
cargo build --examples
cargo test --all-targets
cargo test --doc
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
