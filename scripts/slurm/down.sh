#!/usr/bin/env bash
# Takes down the test Slurm of up.sh (either shape) and removes all it made: cancels jobs,
# stops every slurmd, slurmctld, slurmdbd, MariaDB and its munged by their pid files, ends what
# is left holding files under $MPIVIEW_SLURM_BASE (slurmstepd of a job that outlived its slurmd),
# takes the test cluster down when up.sh brought it up, and removes $MPIVIEW_SLURM_BASE
# (configuration, state, spool, database, logs, pid files). Works from whatever a failed up.sh
# or test left; when nothing is up it says so. Running it twice is fine. Needs root.
#
#   MPIVIEW_SLURM_BASE       the state directory (default /var/spool/mpiview-slurm)
#   MPIVIEW_SLURM_KEEP_LOGS=1   keep $MPIVIEW_SLURM_BASE/log (everything else goes)
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
say() { echo "slurm-down: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "error: must run as root"; exit 1; }
t0=$(date +%s.%N)

nodes=1 cluster_base= made_cluster=0 ctld_netns= ctld_uts=
# shellcheck source=/dev/null
[ -r "$state_file" ] && source "$state_file"
# The controller's namespaces may be gone already (the cluster taken down first).
if [ -n "$ctld_netns" ] && ! [ -e "$ctld_netns" ]; then ctld_netns= ctld_uts=; nodes_gone=1; fi

if [ ! -e "$base" ]; then
  say "nothing is up (no $base)"
  exit 0
fi

if running "$base/run/slurmctld.pid" slurmctld && [ -z "${nodes_gone:-}" ]; then
  jobs=$(ctl timeout 10 squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    say "cancelling jobs $(echo $jobs)"
    # shellcheck disable=SC2086 # one job id a word
    ctl timeout 10 scancel $jobs 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(ctl timeout 10 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.3; done
  fi
fi
for f in "$base"/run/slurmd-*.pid "$base/run/slurmd.pid"; do [ -e "$f" ] && stop "$f" slurmd; done
stop "$base/run/slurmctld.pid" slurmctld
stop "$base/run/slurmdbd.pid" slurmdbd
stop "$base/run/mariadbd.pid" mariadbd
stop "$base/run/munged.pid" munged

# Whatever still holds a file under $base: slurmstepd of a job whose slurmd is gone, a daemon
# whose pid file was lost. TERM, then KILL.
for sig in TERM KILL; do
  pids=$(pids_holding_base)
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086 # one pid a word
  say "sending $sig to what holds files under $base: $(ps -o comm=,pid= -p "$(echo $pids | tr ' ' ,)" 2>/dev/null | awk '{printf "%s(%s) ", $1, $2}')"
  # shellcheck disable=SC2086
  kill -s "$sig" $pids 2>/dev/null || true
  for _ in $(seq 50); do [ -n "$(pids_holding_base)" ] || break; sleep 0.1; done
done
left=$(pids_holding_base)
[ -z "$left" ] || say "warning: processes still hold files under $base: $left"

# The test cluster, when up.sh made it (this also ends anything left in its namespaces). If
# that fails, the state file stays, so that running down.sh again tries again.
rc=0
if [ "$made_cluster" = 1 ] && [ -n "$cluster_base" ]; then
  MPIVIEW_CLUSTER_BASE=$cluster_base "$cluster_scripts/down.sh" || rc=1
fi

keep=()
[ "${MPIVIEW_SLURM_KEEP_LOGS:-0}" = 1 ] && [ -d "$base/log" ] && keep+=(! -name log)
[ "$rc" = 0 ] || keep+=(! -name state)
if ((${#keep[@]})) && [ -d "$base" ]; then
  find "$base" -mindepth 1 -maxdepth 1 "${keep[@]}" -exec rm -rf {} +
  say "kept $(ls "$base" | tr '\n' ' ')in $base"
else
  rm -rf "$base"
fi
say "down in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s$([ "$rc" = 0 ] || echo ": the test cluster did not come down (run down.sh again)")"
exit "$rc"
