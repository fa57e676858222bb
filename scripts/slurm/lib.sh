# shellcheck shell=bash disable=SC2034 # variables used by the scripts that source this
# Shared by up.sh, down.sh and exec.sh (sourced, not run).
#
#   MPIVIEW_SLURM_BASE   state, logs, pid files and the accounting database
#                        (default /var/spool/mpiview-slurm)
base=${MPIVIEW_SLURM_BASE:-/var/spool/mpiview-slurm}
base=${base%/}
slurm_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster_scripts=$(cd "$slurm_scripts/../cluster" && pwd)
# What up.sh brought up (sourced by down.sh and exec.sh): nodes, cluster_base, made_cluster,
# ctld_netns and ctld_uts (the controller's namespaces; empty on one node).
state_file=$base/state
# The configuration lives here, not in /etc/slurm: daemons, commands and jobs find it through
# SLURM_CONF (slurmdbd.conf beside it), so nothing of the machine's own Slurm is touched.
conf=$base/etc/slurm.conf
dbd_conf=$base/etc/slurmdbd.conf
# A munged of its own (its socket named by AuthInfo in both files), with the machine's key.
munge_socket=$base/munge/munge.socket
marker="Written by mpiview's scripts/slurm/up.sh"

# Whether process $1 lives (not a zombie: PID 1 here reaps orphans late) and is named $2.
alive_pid() {
  local state
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ "$state" != Z && "$state" != X ]] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# Whether the process of pid file $1 lives and is named $2.
running() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  alive_pid "$pid" "$2"
}

# Stops the process of pid file $1 named $2: TERM, then KILL after 10 s. Waits on the pid, not
# the file: slurmd removes its pid file as soon as it starts shutting down.
stop() {
  local pid
  if ! running "$1" "$2"; then rm -f "$1"; return 0; fi
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive_pid "$pid" "$2" || break; sleep 0.1; done
  if alive_pid "$pid" "$2"; then
    kill -KILL "$pid" 2>/dev/null || true
    echo "slurm: killed $2 ($pid): it did not end within 10 s of SIGTERM" >&2
  else
    echo "slurm: stopped $2 ($pid)" >&2
  fi
  rm -f "$1"
}

# Runs a Slurm client command where it reaches the controller: inside the controller's node of
# the test cluster (as recorded in the state file), or here on one node.
ctl() {
  if [ -n "${ctld_netns:-}" ]; then
    SLURM_CONF=$conf nsenter --net="$ctld_netns" --uts="$ctld_uts" -- "$@"
  else
    SLURM_CONF=$conf "$@"
  fi
}

# Pids of live processes other than this shell that hold a file under $base open (daemons,
# slurmstepd of jobs: they log to the slurmd log).
pids_holding_base() {
  { find /proc/[0-9]*/fd -maxdepth 1 -type l -lname "$base/*" -printf '%h\n' 2>/dev/null || true; } |
    awk -F/ '{print $3}' | sort -un | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}
