#!/usr/bin/env bash
# Brings up a test cluster of 3 "nodes" on this machine out of Linux namespaces, for running
# Open MPI jobs across nodes (scripts/cluster/mpirun.sh). Each node is a network namespace plus a
# persistent UTS namespace with its own hostname (node1, node2, ...); a veth pair joins each
# node's eth0 to a bridge in a namespace of its own. Addresses are 198.18.0.11, .12, ... /24
# (benchmarking range) and exist only inside these namespaces: no route, link or address is
# added to the host's namespace, so no traffic leaves the cluster. No daemon runs: bind mounts
# (/run/netns/<prefix>-*, $MPIVIEW_CLUSTER_BASE/uts/*) hold the namespaces. Needs root.
# Idempotent: when the cluster is up, only checks it; a partial one is removed and rebuilt.
#
#   MPIVIEW_CLUSTER_BASE   state directory (default /run/mpiview-cluster): hostfile, env (to
#                          source inside a node), nodes, uts/. Its last component prefixes the
#                          namespaces' names.
#   MPIVIEW_CLUSTER_NODES  number of nodes (default 3, 1 to 9)
#   MPIVIEW_CLUSTER_SLOTS  slots per node in the hostfile (default 2)
#
# Remove it with down.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
n_nodes=${MPIVIEW_CLUSTER_NODES:-3}
slots=${MPIVIEW_CLUSTER_SLOTS:-2}

say() { echo "cluster-up: $*" >&2; }
die() { say "error: $*"; exit 1; }

missing=()
[ "$(id -u)" = 0 ] || missing+=("root (run as root: namespaces, veths and mounts need it)")
for c in ip nsenter unshare mount umount awk stat timeout; do
  command -v "$c" >/dev/null 2>&1 || missing+=("the '$c' command")
done
[ -e /proc/self/ns/net ] && [ -e /proc/self/ns/uts ] || missing+=("kernel network/UTS namespaces")
if ((${#missing[@]})); then
  for m in "${missing[@]}"; do say "missing: $m"; done
  die "cannot bring the cluster up"
fi
[[ "$n_nodes" =~ ^[1-9]$ ]] || die "MPIVIEW_CLUSTER_NODES must be 1 to 9 (is '$n_nodes')"
[[ "$slots" =~ ^[1-9][0-9]*$ ]] || die "MPIVIEW_CLUSTER_SLOTS must be a positive number (is '$slots')"
[[ "$base" = /* ]] || die "MPIVIEW_CLUSTER_BASE must be an absolute path (is '$base')"
[[ "$here" != *:* ]] || die "the scripts' path must not contain ':' (Open MPI splits plm_rsh_agent on it): $here"

nodes=()
for i in $(seq "$n_nodes"); do nodes+=("node$i"); done

hostfile() { for name in "${nodes[@]}"; do echo "$(addr_of "$name") slots=$slots"; done; }
in_node() { nsenter --net="/run/netns/$(netns_of "$1")" --uts="$(uts_of "$1")" -- "${@:2}"; }

# Whether the recorded cluster is complete and working; says what is wrong when not.
check() {
  local name addr other
  if [ ! -r "$base/nodes" ] || [ ! -r "$base/hostfile" ] || [ ! -r "$base/env" ]; then
    say "no state in $base"
    return 1
  fi
  [ -e "/run/netns/$bridge_ns" ] || { say "no namespace $bridge_ns"; return 1; }
  [ "$(ip -n "$bridge_ns" -br link show br0 2>/dev/null | awk '{print $2}')" = UP ] || { say "br0 is not up"; return 1; }
  if [ "$(recorded_nodes | paste -sd' ')" != "${nodes[*]}" ] || [ "$(cat "$base/hostfile")" != "$(hostfile)" ]; then
    say "up with other nodes or slots ($(recorded_nodes | paste -sd' '), $(awk '{print $2; exit}' "$base/hostfile"))"
    return 1
  fi
  for name in $(recorded_nodes); do
    addr=$(addr_of "$name")
    [ -e "/run/netns/$(netns_of "$name")" ] || { say "no namespace $(netns_of "$name")"; return 1; }
    [ "$(in_node "$name" uname -n 2>/dev/null)" = "$name" ] || { say "$name: wrong or no UTS namespace"; return 1; }
    ip -n "$(netns_of "$name")" -br addr show eth0 2>/dev/null | grep -q " $addr/24" || { say "$name: no $addr on eth0"; return 1; }
    ip -n "$(netns_of "$name")" -br link show lo 2>/dev/null | grep -q UP || { say "$name: lo is down"; return 1; }
  done
  # Reachability: a TCP connect from the first node to every node's closed port 9 must be
  # refused at once (an RST came back); a timeout or "no route" means the network is broken.
  other=$(recorded_nodes | head -n 1)
  for name in $(recorded_nodes); do
    addr=$(addr_of "$name")
    if [[ "$(in_node "$other" timeout 3 bash -c "exec 3<>/dev/tcp/$addr/9" 2>&1)" != *"Connection refused"* ]]; then
      say "$other cannot reach $name ($addr)"
      return 1
    fi
  done
}

something_there() {
  [ -e "$base" ] || ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^$prefix-"
}

# The env file, for this checkout's agent (rewritten when up.sh runs from another checkout).
write_env() {
  local new
  new=$(mktemp "$base/env.XXXXXX")
  cat > "$new" <<ENV
# Written by scripts/cluster/up.sh. Source it inside a node (exec.sh and mpirun.sh do) and
# mpirun runs across the cluster: rsh launch through the agent, TCP only on the cluster's subnet.
export MPIVIEW_CLUSTER_BASE=$base
export OMPI_MCA_plm_rsh_agent=$here/agent
export OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_oob_tcp_if_include=$cidr
export OMPI_MCA_btl_tcp_if_include=$cidr
export OMPI_MCA_btl=self,vader,tcp
export OMPI_MCA_orte_default_hostfile=$base/hostfile
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# The nodes share the host's cores, which Open MPI cannot see: ranks waiting in MPI would spin
# and starve each other (Bcast+Gather 2-25 ms instead of 0.1-0.4). Yield unless set.
export OMPI_MCA_mpi_yield_when_idle=\${OMPI_MCA_mpi_yield_when_idle:-1}
# Ranks round-robin over the nodes (node) or fill each node's slots first (slot).
export OMPI_MCA_rmaps_base_mapping_policy=\${OMPI_MCA_rmaps_base_mapping_policy:-\${MPIVIEW_CLUSTER_MAP:-node}}
ENV
  if cmp -s "$new" "$base/env"; then rm -f "$new"; return 1; fi
  chmod 644 "$new"
  mv "$new" "$base/env"
}

if [ -e "$base/nodes" ] && check; then
  write_env && say "wrote $base/env for the agent in $here"
  say "already up: $(recorded_nodes | tr '\n' ' ')(state in $base)"
  exit 0
fi
if something_there; then
  say "removing the cluster that is there first"
  MPIVIEW_CLUSTER_BASE=$base "$here/down.sh"
fi

t0=$(date +%s.%N)
trap 'say "error: failed at line $LINENO (down.sh removes what was made; up.sh does it first)"' ERR
mkdir -p "$base/uts"
: > "$base/nodes" # written first so that down.sh finds what a failed run left
# `ip netns add` makes /run/netns a mount point of its own the first time: down.sh undoes that
# when it was us and no other namespace is left there.
if ! awk '$5 == "/run/netns" {found = 1} END {exit !found}' /proc/self/mountinfo; then
  : > "$base/made-run-netns"
fi

# Writes $3 to /proc/sys/$2 inside network namespace $1 (sysctls under net/ are per namespace).
ns_sysctl() { nsenter --net="/run/netns/$1" -- sh -c "echo $3 > /proc/sys/$2"; }

# No IPv6 anywhere in the cluster: the links would get fe80:: addresses otherwise.
no_ipv6() {
  [ -e /proc/sys/net/ipv6 ] || return 0
  ns_sysctl "$1" net/ipv6/conf/all/disable_ipv6 1
  ns_sysctl "$1" net/ipv6/conf/default/disable_ipv6 1
}

ip netns add "$bridge_ns"
no_ipv6 "$bridge_ns"
ip -n "$bridge_ns" link set lo up
ip -n "$bridge_ns" link add br0 type bridge
# Bridged frames skip the bridge namespace's iptables/arptables (br_netfilter, where loaded).
for t in iptables ip6tables arptables; do
  if nsenter --net="/run/netns/$bridge_ns" -- test -e "/proc/sys/net/bridge/bridge-nf-call-$t"; then
    ns_sysctl "$bridge_ns" "net/bridge/bridge-nf-call-$t" 0
  fi
done
ip -n "$bridge_ns" link set br0 up

for name in "${nodes[@]}"; do
  ns=$(netns_of "$name")
  uts=$(uts_of "$name")
  echo "$name $(addr_of "$name") $ns $uts" >> "$base/nodes"
  ip netns add "$ns"
  no_ipv6 "$ns"
  : > "$uts"
  # unshare bind-mounts the new UTS namespace on $uts, which keeps it after the command ends.
  unshare --uts="$uts" sh -c "echo $name > /proc/sys/kernel/hostname"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name "$name" netns "$bridge_ns"
  ip -n "$bridge_ns" link set "$name" master br0 up
  ip -n "$ns" addr add "$(addr_of "$name")/24" dev eth0
  ip -n "$ns" link set eth0 up
done

hostfile > "$base/hostfile"

write_env || true

check || die "the cluster came up broken (remove it with down.sh)"
t1=$(date +%s.%N)
say "up in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s: $(for n in "${nodes[@]}"; do printf '%s=%s ' "$n" "$(addr_of "$n")"; done)(state in $base)"
