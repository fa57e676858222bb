#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the seed lab's scatter/gather sum on
# one engine per core plus the controller (NP=... to choose the rank count).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
np="${NP:-$(( $(nproc) + 1 ))}"
exec bash scripts/mpirun.sh -n "$np" target/release/examples/scatter_gather
