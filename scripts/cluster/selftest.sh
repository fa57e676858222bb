#!/usr/bin/env bash
# Tests the cluster scripts on a cluster of its own (a separate base, so a cluster in use is left
# alone): up twice then down twice leaves no namespace, link, mount or process behind; `mpirun -n 6
# hostname` prints node1, node2, node3 twice each; collectives.c (built with mpicc in a temporary
# directory, removed afterwards) sees its ranks on the right nodes (by node and by slot) with the
# caller's environment, and runs Bcast + Gather, an 80 MB Scatterv/Gatherv, their nonblocking
# forms and a task farm across the nodes; a run whose mpirun is SIGKILLed mid-way leaves nothing
# once down.sh ran. Every step runs under a timeout. Exits non-zero on the first failure (and
# removes its cluster then too). Needs root, mpicc and mpirun.
#
#   MPIVIEW_CLUSTER_BASE   base of the test's cluster (default /run/mpiview-selftest)
#   MPIVIEW_SELFTEST_STEP_TIMEOUT   seconds each step may take (default 120)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export MPIVIEW_CLUSTER_BASE=${MPIVIEW_CLUSTER_BASE:-/run/mpiview-selftest}
# shellcheck source=lib.sh
source "$here/lib.sh"
limit=${MPIVIEW_SELFTEST_STEP_TIMEOUT:-120}
unset MPIVIEW_CLUSTER_MAP OMPI_MCA_rmaps_base_mapping_policy

say() { echo "cluster-selftest: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"
for c in mpicc mpirun timeout; do command -v "$c" >/dev/null || fail "missing: the '$c' command"; done

tmp=$(mktemp -d /tmp/mpiview-cluster-selftest.XXXXXX)
victim=
cleanup() {
  local rc=$?
  [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null
  if [ "$rc" != 0 ] && [ -e "$base" ]; then
    say "removing the test cluster after the failure"
    timeout "$limit" "$here/down.sh" || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

step() { # step NAME CMD...: runs CMD under the timeout, output to $tmp/out, timed
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s.%N)
  timeout "$limit" "$@" > "$tmp/out" 2>&1 || rc=$?
  say "$name: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') s, exit $rc"
  [ "$rc" = 0 ] || { sed 's/^/  | /' "$tmp/out" >&2; fail "$name (exit $rc$([ "$rc" = 124 ] && echo ", timed out after $limit s"))"; }
}
expect() { # expect PATTERN WHAT: $tmp/out has a line matching the extended regex PATTERN
  grep -Eq -- "$1" "$tmp/out" || { sed 's/^/  | /' "$tmp/out" >&2; fail "$2"; }
}
host_state() { # what the cluster could leave on the host
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'
  ip netns list | awk '{print $1}' | grep -E "^$prefix-" || true
  awk -v b="$base" 'index($5, b) == 1 || $5 == "/run/netns" {print $5}' /proc/self/mountinfo
}
ns_links() { # the cluster's namespaces, as /proc/PID/ns links name them
  local name
  for name in $(recorded_nodes); do
    ns_link net "/run/netns/$(netns_of "$name")"
    ns_link uts "$(uts_of "$name")"
  done
  ns_link net "/run/netns/$bridge_ns"
}
assert_clean() { # assert_clean WHEN LINKS...
  local when=$1 now pids
  shift
  now=$(host_state)
  [ "$now" = "$before" ] || fail "$when: the host changed: $(diff <(echo "$before") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
  [ ! -e "$base" ] || fail "$when: $base is left"
  pids=$(pids_in_ns "$@")
  [ -z "$pids" ] || fail "$when: processes left in the cluster's namespaces: $(ps -o pid=,comm= -p "$(echo "$pids" | paste -sd,)" | tr '\n' ' ')"
  say "$when: nothing left (no namespace, link, mount, state or process)"
}

if [ -e "$base" ] || ip netns list | grep -q "^$prefix-"; then
  say "a test cluster from an earlier run is there: removing it"
  step "down (earlier run)" "$here/down.sh"
fi
before=$(host_state)

say "1. up twice, down twice"
step "up" "$here/up.sh"
expect "cluster-up: up in" "up.sh did not say it came up"
step "up again" "$here/up.sh"
expect "already up" "a second up.sh did not find the cluster up"
[ "$(ip netns list | grep -c "^$prefix-")" = 4 ] || fail "not 4 namespaces after two up.sh: $(ip netns list | tr '\n' ' ')"
for name in node1 node2 node3; do
  step "hostname in $name" "$here/exec.sh" "$name" uname -n
  [ "$(cat "$tmp/out")" = "$name" ] || fail "$name calls itself '$(cat "$tmp/out")'"
done
mapfile -t links < <(ns_links)
step "down" "$here/down.sh"
expect "cluster-down: down in" "down.sh did not say it removed the cluster"
step "down again" "$here/down.sh"
expect "nothing is up" "a second down.sh did not say nothing is up"
assert_clean "after up, up, down, down" "${links[@]}"

say "2. MPI across the nodes"
step "up" "$here/up.sh"
step "mpirun -n 6 hostname" "$here/mpirun.sh" -n 6 hostname
counts=$(grep -v '^cluster-' "$tmp/out" | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' ')
[ "$counts" = "node1=2 node2=2 node3=2" ] || fail "mpirun -n 6 hostname: $counts (wanted node1=2 node2=2 node3=2)"
say "  hostnames: $counts"

step "mpicc collectives.c" mpicc -O2 -o "$tmp/collectives" "$here/collectives.c"
cd "$tmp"
token=selftest-$$
step "collectives, 6 ranks by node, 80 MB" env MPIVIEW_CLUSTER_TOKEN="$token" "$here/mpirun.sh" -n 6 \
  ./collectives --elements 10000000 --reps 2 --round-trips 300 --tasks 20000
sed 's/^/  | /' "$tmp/out" >&2
for r in 0 1 2 3 4 5; do
  expect "^collectives: rank $r on node$((r % 3 + 1)) MPIVIEW_CLUSTER_TOKEN=$token\$" "rank $r not on node$((r % 3 + 1)) with the caller's environment"
done
expect "^collectives: iscatterv \+ igatherv" "no nonblocking scatter/gather"
expect "^collectives: ok \(6 ranks\)" "collectives did not finish"
step "collectives, 6 ranks by slot" "$here/mpirun.sh" --by-slot -n 6 ./collectives --elements 100000 --round-trips 100
for r in 0 1 2 3 4 5; do expect "^collectives: rank $r on node$((r / 2 + 1)) " "--by-slot: rank $r not on node$((r / 2 + 1))"; done
expect "^collectives: ok \(6 ranks\)" "collectives --by-slot did not finish"

say "3. a run killed mid-way"
"$here/mpirun.sh" -n 6 ./collectives --elements 10000000 --reps 1000 --round-trips 100 > "$tmp/killed" 2>&1 &
victim=$!
for _ in $(seq $((limit * 10))); do
  grep -q "scatterv + gatherv" "$tmp/killed" && break
  kill -0 "$victim" 2>/dev/null || { cat "$tmp/killed" >&2; fail "the run to kill ended early"; }
  sleep 0.1
done
grep -q "scatterv + gatherv" "$tmp/killed" || fail "the run to kill did not reach its scatter/gather"
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
victim=
mapfile -t links < <(ns_links)
say "  SIGKILLed mpirun mid-scatter; still in the cluster: $(pids_in_ns "${links[@]}" | paste -sd, | xargs -r ps -o comm= -p | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
step "down after the killed run" "$here/down.sh"
sed 's/^/  | /' "$tmp/out" >&2
assert_clean "after the killed run and down" "${links[@]}"
cd /
say "PASS"
