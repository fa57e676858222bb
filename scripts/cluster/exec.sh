#!/usr/bin/env bash
# Runs a command inside one node of the test cluster (its network and UTS namespaces), with the
# cluster's Open MPI environment sourced, so that an mpirun it starts runs across the cluster:
#
#   scripts/cluster/exec.sh node2 hostname
#   scripts/cluster/exec.sh node1 cargo bench --bench micro     # its own mpirun spreads out
#   scripts/cluster/exec.sh 198.18.0.13 ip addr
#
# The working directory and the environment pass through (the filesystem is the host's).
#
#   MPIVIEW_CLUSTER_BASE   the cluster's state directory (default /run/mpiview-cluster)
#   MPIVIEW_CLUSTER_MAP    node (default) or slot: how mpirun places ranks (see README.md)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
say() { echo "cluster-exec: $*" >&2; }
(($# >= 2)) || { say "usage: exec.sh NODE CMD [ARGS...]"; exit 2; }
[ "$(id -u)" = 0 ] || { say "error: must run as root (nsenter)"; exit 1; }
[ -r "$base/env" ] || { say "error: the cluster is not up (no $base/env): run scripts/cluster/up.sh"; exit 1; }
node=$(resolve_node "$1") || { say "error: no node '$1' (nodes: $(recorded_nodes | tr '\n' ' '))"; exit 1; }
shift
# shellcheck source=/dev/null
source "$base/env"
exec nsenter --net="/run/netns/$(netns_of "$node")" --uts="$(uts_of "$node")" -- "$@"
