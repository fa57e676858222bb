#!/usr/bin/env bash
# The whole test suite: installs missing system packages, checks formatting and lints, then runs
# every test of the workspace (unit tests, multi-rank tests under mpiexec at 1, 2, 3, 5 and 17
# ranks, examples, doc tests) and builds the docs with warnings as errors.
#
#   bash scripts/test.sh                     # against Open MPI (Debian's default MPI)
#   MPIVIEW_MPI=mpich bash scripts/test.sh   # the runtime's tests against MPICH
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_NO_BUILD=1 bash scripts/setup.sh
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)" >&2; }
case "${MPIVIEW_MPI:-openmpi}" in
  openmpi) ;;
  mpich)
    # The runtime crate built against MPICH in a target directory of its own (rsmpi does not
    # rebuild when the MPI changes), every one of its tests launched by MPICH's mpiexec (hydra,
    # ch4:ucx). Not over TCP: Debian's MPICH 4.0.2 with UCX 1.13.1 hangs in MPI_Finalize with
    # UCX_TLS=tcp or tcp,self in about half of the runs of a 3-rank C program that sends one
    # message each way (docs/performance.md, "MPICH").
    export MPICC=mpicc.mpich MPIEXEC=mpiexec.mpich CARGO_TARGET_DIR=target/mpich
    step "the runtime against MPICH: examples"
    cargo build -p mpiview --examples --profile test
    step "the runtime against MPICH: tests"
    cargo test -p mpiview --all-targets
    step "done (MPICH)"
    exit 0
    ;;
  *)
    echo "error: MPIVIEW_MPI=${MPIVIEW_MPI}: expected openmpi or mpich" >&2
    exit 2
    ;;
esac
step "format"
cargo fmt --all --check
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The declared rust-version is the truth: every target of the workspace compiles with it (the
# toolchain comes from rustup, minimal profile; its own target directory). Where rustup cannot
# fetch it (a machine that reaches only the package registries), the step says so and is
# skipped; clippy's incompatible_msrv lint above still refuses standard-library items newer
# than the declared version.
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
step "a check with the declared rust-version, $msrv"
if rustup toolchain list | grep -q "^$msrv" ||
  rustup toolchain install "$msrv" --profile minimal; then
  cargo "+$msrv" check --workspace --all-targets --target-dir target/msrv
else
  echo "SKIPPED: rustup could not fetch Rust $msrv here; the check at the declared version did not run" >&2
fi
# The example binaries the tests launch (`cargo test --all-targets` builds examples only as test
# harnesses), built with the tests' profile so that both share one build of the library.
step "examples"
cargo build --workspace --examples --profile test
step "tests"
cargo test --workspace --all-targets
# Large transfers must keep moving where Open MPI has no single-copy path (Ubuntu's ptrace
# policy, containers) and over networks: the same suites without single-copy, then over TCP;
# then with every view of 2 engines or more broadcast to (the default does that from 32).
for setting in "OMPI_MCA_btl_vader_single_copy_mechanism=none" "OMPI_MCA_btl=self,tcp" \
  "MPIVIEW_BROADCAST_MIN=2"; do
  step "DirectView, load-balanced, batch, results, ordering and async-transfer suites with $setting"
  env "$setting" cargo test -p mpiview --test direct_view --test load_balanced --test batches \
    --test results --test ordering --test transfers_async --test progress
done
# Several nodes: a 3-node test cluster of network and UTS namespaces (scripts/cluster/), whose
# scripts are tested first; then the multi-rank suites with every launch spread over the nodes
# (TCP between them), and the apps' reproducibility across nodes.
step "the test cluster's own test"
bash scripts/cluster/selftest.sh
step "the multi-rank suites on 3 nodes"
bash scripts/cluster/up.sh
trap 'bash scripts/cluster/down.sh' EXIT
cluster_mpiexec="$PWD/scripts/cluster/mpirun.sh"
# Not the 17- and 65-rank test (it runs on one node above): 65 ranks over TCP between the
# namespaces, on 2 cores, took anywhere from 20 s to over 300 s (docs/performance.md).
MPIEXEC="$cluster_mpiexec" cargo test -p mpiview --test direct_view --test load_balanced \
  --test batches --test results --test runtime --test ordering --test examples \
  --test transfers_async --test progress -- --skip many_ranks_oversubscribed
MPIEXEC="$cluster_mpiexec" cargo test -p mpiview-apps --test app_outputs maxnormal_samples
bash scripts/cluster/down.sh
trap - EXIT
step "doc tests"
cargo test --workspace --doc
step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
step "a crate outside the workspace"
bash scripts/out-of-tree.sh
step "done"
