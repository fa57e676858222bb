#!/usr/bin/env bash
# The main job: installs what is missing, builds, and integrates sin²x over [0, π] on 10^8
# points with trapz, on one engine per core plus the controller (NP=... to choose the ranks;
# extra arguments go to trapz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
np="${NP:-$(( $(nproc) + 1 ))}"
exec bash scripts/mpirun.sh -n "$np" target/release/trapz "$@"
