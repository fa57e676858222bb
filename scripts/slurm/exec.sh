#!/usr/bin/env bash
# Runs a command where Slurm's commands reach the test Slurm of up.sh: with SLURM_CONF set to its
# configuration, inside the controller's node (node1) when it runs on the test cluster
# (MPIVIEW_SLURM_NODES > 1), here on one node. The working directory and the environment pass
# through (sbatch hands the environment on to the job, SLURM_CONF with it, which srun and mpirun
# in the job need); unlike scripts/cluster/exec.sh, nothing else is added to it.
#
#   scripts/slurm/exec.sh sinfo -N
#   scripts/slurm/exec.sh sbatch -N 3 -n 6 slurm/trapz.sbatch
#   scripts/slurm/exec.sh sacct -j 12 -o JobID,State,ExitCode
#
#   MPIVIEW_SLURM_BASE   the test Slurm's state directory (default /var/spool/mpiview-slurm)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
(($# >= 1)) || { echo "slurm-exec: usage: exec.sh CMD [ARGS...]" >&2; exit 2; }
[ -r "$state_file" ] || { echo "slurm-exec: error: the test Slurm is not up (no $state_file): run scripts/slurm/up.sh" >&2; exit 1; }
ctld_netns= ctld_uts=
# shellcheck source=/dev/null
source "$state_file"
export SLURM_CONF=$conf
if [ -n "$ctld_netns" ]; then
  [ "$(id -u)" = 0 ] || { echo "slurm-exec: error: must run as root (nsenter)" >&2; exit 1; }
  exec nsenter --net="$ctld_netns" --uts="$ctld_uts" -- "$@"
fi
exec "$@"
