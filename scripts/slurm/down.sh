#!/usr/bin/env bash
# Stops the one-node Slurm cluster of up.sh: cancels jobs, then stops slurmd, slurmctld and
# (only if up.sh started it) munged, each by its pid file. Configuration and logs stay.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
say() { echo "slurm-down: $*" >&2; }

if running "$base/run/slurmctld.pid" slurmctld; then
  jobs=$(squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    say "cancelling jobs $(echo $jobs)"
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.3; done
  fi
fi
stop "$base/run/slurmd.pid" slurmd
stop "$base/run/slurmctld.pid" slurmctld
if running "$base/run/munged.pid" munged; then
  stop "$base/run/munged.pid" munged
  rm -f /run/munge/munged.pid
fi
exit 0
