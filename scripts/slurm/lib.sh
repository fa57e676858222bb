# Shared by up.sh and down.sh (sourced, not run).
base=${MPIVIEW_SLURM_BASE:-/var/spool/mpiview-slurm}

# A live process (not a zombie: PID 1 here reaps orphans late) whose name is $2, from pid file $1.
running() {
  local pid state
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z && "$state" != X ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# Stops the process of pid file $1 named $2: TERM, then KILL after 10 s.
stop() {
  if ! running "$1" "$2"; then rm -f "$1"; return 0; fi
  local pid; pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do running "$1" "$2" || break; sleep 0.1; done
  running "$1" "$2" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
  echo "slurm: stopped $2 ($pid)" >&2
}
