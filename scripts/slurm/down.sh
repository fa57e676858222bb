#!/usr/bin/env bash
# Stops the one-node Slurm cluster of up.sh: cancels jobs, then stops slurmd, slurmctld and
# (only if up.sh started it) munged, each by its pid file. Configuration and logs stay.
set -uo pipefail
base=${MPIVIEW_SLURM_BASE:-/var/spool/mpiview-slurm}
say() { echo "slurm-down: $*" >&2; }

running() {
  local pid state
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z && "$state" != X ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
stop() { # pid file, name
  if ! running "$1" "$2"; then rm -f "$1"; return 0; fi
  local pid; pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do running "$1" "$2" || break; sleep 0.1; done
  running "$1" "$2" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
  say "stopped $2 ($pid)"
}

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
