#!/usr/bin/env bash
# Installs the Debian packages mpiview needs (only those missing; nothing when all are there),
# then builds the release binaries. Works as root, or as a user with sudo; a user without
# either gets the list of packages to ask for.
#
#   bash scripts/setup.sh            # install what is missing, build
#   SETUP_NO_BUILD=1 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  libopenmpi-dev openmpi-bin   # MPI: the transport (Open MPI 4.1 on Debian 12)
  libclang-dev pkg-config      # bindgen for mpi-sys, library discovery
  libhdf5-openmpi-dev          # parallel HDF5 for the apps' output files
  iproute2 util-linux          # ip, nsenter, unshare: the test cluster of scripts/cluster/
  python3-h5py python3-numpy   # tests: output files read back by h5py, julia against NumPy
  gdb                          # tests: the stacks of a launch killed at its deadline
)
# The second MPI of the test suite (MPIVIEW_MPI=mpich bash scripts/test.sh); installed beside
# Open MPI, which stays the default (`mpicc`, `mpirun`).
if [ "${MPIVIEW_MPI:-openmpi}" = mpich ]; then
  packages+=(libmpich-dev mpich)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "error: these packages are missing and this user cannot install them: ${missing[*]}" >&2
    echo "       ask an administrator to run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q)
  "${apt[@]}" update
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all system packages present" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi

if [ -z "${SETUP_NO_BUILD:-}" ]; then
  cargo build --release --bins --examples
fi
