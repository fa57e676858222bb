# shellcheck shell=bash disable=SC2034 # variables used by the scripts that source this
# Shared by the cluster scripts (sourced, not run): names, addresses and helpers.
#
#   MPIVIEW_CLUSTER_BASE   state directory (default /run/mpiview-cluster); its last path
#                          component also prefixes the network namespaces' names, so two
#                          bases make two separate clusters.
#   MPIVIEW_CLUSTER_NODES  nodes that up.sh creates (default 3, at most 9)
#   MPIVIEW_CLUSTER_SLOTS  slots per node in the hostfile (default 2)
#
# Node i (1-based) is called node<i>: network namespace <prefix>-node<i>, UTS namespace held by
# the bind mount $base/uts/node<i>, address 198.18.0.<10+i>/24 on its eth0. The bridge br0
# lives in a namespace of its own, <prefix>-bridge, with one veth port per node.
base=${MPIVIEW_CLUSTER_BASE:-/run/mpiview-cluster}
base=${base%/}
prefix=$(basename "$base")
subnet=198.18.0
cidr=$subnet.0/24
bridge_ns=$prefix-bridge

netns_of() { echo "$prefix-$1"; }
uts_of() { echo "$base/uts/$1"; }
addr_of() { echo "$subnet.$((10 + ${1#node}))"; }

# Node names recorded by up.sh (one a line in $base/nodes), or none.
recorded_nodes() {
  [ -r "$base/nodes" ] || return 0
  awk '{print $1}' "$base/nodes"
}

# The node called $1 (name, address or netns name); prints its name.
resolve_node() {
  local host=$1 name
  host=${host#*@}
  for name in $(recorded_nodes); do
    if [ "$host" = "$name" ] || [ "$host" = "$(addr_of "$name")" ] || [ "$host" = "$(netns_of "$name")" ]; then
      echo "$name"
      return 0
    fi
  done
  return 1
}

# The namespace that file $2 holds as /proc/PID/ns/$1 names it (net:[4026532177]), or nothing
# when $2 holds none (a plain file's inode could match a namespace's by chance).
ns_link() {
  [ "$(stat -L -f -c %T "$2" 2>/dev/null)" = nsfs ] || return 0
  echo "$1:[$(stat -L -c %i "$2")]"
}

# Pids of live processes in any of the namespaces $@ (as ns_link prints them); one pass over /proc.
pids_in_ns() {
  (($#)) || return 0
  # find fails on a process that ended after the glob: not an error here.
  { find /proc/[0-9]*/ns -maxdepth 1 -type l \( -name net -o -name uts \) -printf '%h %l\n' 2>/dev/null || true; } |
    awk -v want="$*" 'BEGIN {n = split(want, w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1}
      ok[$2] {split($1, p, "/"); print p[3]}' | sort -un
}

# Mount points at or under $base (deepest first), from /proc/self/mountinfo.
mounts_under_base() {
  awk -v b="$base" '$5 == b || index($5, b "/") == 1 {print $5}' /proc/self/mountinfo | sort -r
}
