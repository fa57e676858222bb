#!/usr/bin/env bash
# mpirun with what this machine needs: Open MPI refuses to run as root without the two
# ALLOW_RUN_AS_ROOT variables, and refuses more ranks than cores without oversubscription.
#
#   bash scripts/mpirun.sh -n 3 target/release/examples/scatter_gather
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
exec mpirun "$@"
