#!/usr/bin/env bash
# mpirun across the test cluster: starts mpirun inside node1 with the cluster's environment
# (exec.sh), so that daemons start on the other nodes through the agent and ranks talk TCP over
# 198.18.0.0/24 (shared memory between ranks of one node). Ranks go round-robin over the nodes
# by default (-n 6: node1 node2 node3 node1 node2 node3); --by-slot fills each node's slots
# first (-n 6 with 2 slots: node1 node1 node2 node2 node3 node3). Other arguments go to mpirun.
#
#   scripts/cluster/mpirun.sh -n 6 hostname
#   MPIVIEW_FOO=1 scripts/cluster/mpirun.sh --by-slot -n 4 target/release/examples/trapz
#
#   MPIVIEW_CLUSTER_MAP    node (default) or slot, as --by-node / --by-slot; an explicit
#                          --map-by or OMPI_MCA_rmaps_base_mapping_policy wins
#   MPIVIEW_CLUSTER_BASE   the cluster's state directory (default /run/mpiview-cluster)
#   OMPI_MCA_mpi_yield_when_idle   default 1 here (ranks outnumber the cores)
# Every variable of the caller's environment reaches the ranks on every node (no -x needed).
set -euo pipefail

args=()
while (($#)); do
  case $1 in
    --by-node) export MPIVIEW_CLUSTER_MAP=node ;;
    --by-slot) export MPIVIEW_CLUSTER_MAP=slot ;;
    *) args+=("$1") ;;
  esac
  shift
done
case ${MPIVIEW_CLUSTER_MAP:-node} in
  node|slot) ;;
  *) echo "cluster-mpirun: error: MPIVIEW_CLUSTER_MAP must be node or slot" >&2; exit 2 ;;
esac
exec "$(dirname "$0")/exec.sh" node1 mpirun "${args[@]}"
