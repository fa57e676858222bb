#!/usr/bin/env bash
# Removes the test cluster that up.sh made: kills every process still inside a node's (or the
# bridge's) network or UTS namespace (mpirun, orted daemons, ranks of a killed run; TERM, then
# KILL after 3 s), deletes the namespaces (which deletes their veths and the bridge), unmounts
# the UTS namespaces' bind mounts and removes the state directory. Works from whatever a failed
# or interrupted up.sh or run left; when nothing is up it says so and exits 0. Needs root.
#
#   MPIVIEW_CLUSTER_BASE   state directory of the cluster to remove (default /run/mpiview-cluster)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

say() { echo "cluster-down: $*" >&2; }
die() { say "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v ip >/dev/null 2>&1 || die "missing: the 'ip' command"

t0=$(date +%s.%N)
mapfile -t netns < <(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$prefix-(node[0-9]+|bridge)$" || true)
uts=()
for f in "$base"/uts/*; do [ -e "$f" ] && uts+=("$f"); done
if ((${#netns[@]} == 0)) && [ ! -e "$base" ]; then
  say "nothing is up (no $base, no $prefix-* namespaces)"
  exit 0
fi

# Pids in any of the cluster's namespaces, except this script's own.
cluster_pids() {
  # shellcheck disable=SC2046 # one namespace a word
  pids_in_ns $(for ns in "${netns[@]}"; do ns_link net "/run/netns/$ns"; done; for f in "${uts[@]}"; do ns_link uts "$f"; done) |
    grep -vx -e "$$" -e "$BASHPID" || true
}

killed=0
for sig in TERM KILL KILL; do
  pids=$(cluster_pids)
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086 # one pid a word
  say "sending $sig to $(echo $pids | wc -w) process(es): $(ps -o pid=,comm= -p "$(echo $pids | tr ' ' ,)" 2>/dev/null | awk '{printf "%s(%s) ", $2, $1}')"
  # shellcheck disable=SC2086
  kill -s "$sig" $pids 2>/dev/null || true
  killed=1
  for _ in $(seq 30); do [ -n "$(cluster_pids)" ] || break; sleep 0.1; done
done
pids=$(cluster_pids)
[ -z "$pids" ] || die "processes still in the cluster's namespaces: $pids"

for ns in "${netns[@]}"; do ip netns del "$ns"; done
while read -r m; do
  [ -n "$m" ] && umount "$m"
done < <(mounts_under_base)
if [ -e "$base/made-run-netns" ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
  umount /run/netns 2>/dev/null && rmdir /run/netns
fi
rm -rf "$base"

left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$prefix-" || true)
[ -z "$left" ] || die "namespaces left: $left"
[ -z "$(mounts_under_base)" ] || die "mounts left under $base: $(mounts_under_base | tr '\n' ' ')"
t1=$(date +%s.%N)
say "down in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s: removed ${#netns[@]} namespace(s), ${#uts[@]} UTS mount(s), $base$([ "$killed" = 1 ] && echo ", killed the processes above")"
