#!/usr/bin/env bash
# Brings up a test Slurm on this machine (Debian: munge, slurmctld, slurmdbd with a private
# MariaDB for accounting, slurmd; Slurm 22.05, PMIx for `srun --mpi=pmix`), for testing the
# sbatch scripts in slurm/. Needs root. No systemd: daemons are started directly and their pid
# files kept under $MPIVIEW_SLURM_BASE/run; down.sh stops them and removes all that up.sh made.
#
# Two shapes:
#   one node (MPIVIEW_SLURM_NODES=1, the default): every daemon here, the node is this machine
#     (its short hostname, 127.0.0.1).
#   N nodes (MPIVIEW_SLURM_NODES=2..9): the test cluster of scripts/cluster/ (brought up with N
#     nodes unless it is up): a slurmd in each node's network and UTS namespaces, NodeName the
#     node's hostname (node1, ...) at its 198.18.0.x address; slurmctld, slurmdbd and MariaDB in
#     node1 (SlurmctldHost=node1(198.18.0.11)). All Slurm traffic stays inside the cluster's
#     namespaces, so Slurm commands run in a node.
#
# Self-contained: the configuration, a munged of its own, the state, the database and the logs
# are all under $MPIVIEW_SLURM_BASE; /etc/slurm and the machine's munged are left alone. Slurm
# commands find the configuration through SLURM_CONF=$MPIVIEW_SLURM_BASE/etc/slurm.conf, which
# scripts/slurm/exec.sh CMD sets (it also enters node1 on the cluster): `exec.sh sbatch ...`.
#
# Idempotent: when the same shape is up, only starts what is not running and checks it; another
# shape is taken down first (down.sh). Accounting: `sacct` shows every job (State, ExitCode, the
# steps) from slurmdbd; MariaDB listens on a Unix socket only (no network).
#
#   MPIVIEW_SLURM_NODES   1 (default): here; 2-9: the test cluster's nodes
#   MPIVIEW_CLUSTER_BASE  the test cluster's state directory (default /run/mpiview-cluster)
#   MPIVIEW_SLURM_BASE    configuration, state, logs, pid files, database
#                         (default /var/spool/mpiview-slurm)
#   MPIVIEW_SLURM_CPUS    CPUs each node advertises          (default 8: more than the cores, so
#                         scripts asking for -n 8 run oversubscribed on a small machine)
#   MPIVIEW_SLURM_TIMEOUT seconds to wait for each daemon    (default 60)
#   MPIVIEW_SLURM_NO_INSTALL=1   never call apt-get
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
n_nodes=${MPIVIEW_SLURM_NODES:-1}
cpus=${MPIVIEW_SLURM_CPUS:-8}
timeout_s=${MPIVIEW_SLURM_TIMEOUT:-60}
packages=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server-core mariadb-client-core
  libpmix-dev openmpi-bin)

say() { echo "slurm-up: $*" >&2; }
die() { say "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[[ "$n_nodes" =~ ^[1-9]$ ]] || die "MPIVIEW_SLURM_NODES must be 1 to 9 (is '$n_nodes')"
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "MPIVIEW_SLURM_CPUS must be a positive number (is '$cpus')"
[[ "$base" = /* ]] || die "MPIVIEW_SLURM_BASE must be an absolute path (is '$base')"
t0=$(date +%s.%N)
# Every daemon and command started below reads this configuration.
export SLURM_CONF=$conf

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [ "${MPIVIEW_SLURM_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
  say "installing ${missing[*]}"
  # A private archive directory: this machine image deletes downloaded .debs after every dpkg
  # run, which breaks an install that overlaps another apt run.
  archives=$(mktemp -d /tmp/mpiview-slurm-apt.XXXXXX)
  mkdir -p "$archives/partial"
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -o Dir::Cache::archives="$archives" -q)
  "${apt[@]}" update >&2
  for attempt in 1 2 3; do
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 && break
    [ "$attempt" = 3 ] && die "apt-get install failed"
    "${apt[@]}" -f install -y >&2 || true
    sleep 3
  done
  rm -rf "$archives"
fi

# The shape asked for; another shape that is up goes first.
if ((n_nodes > 1)); then
  cluster_base=${MPIVIEW_CLUSTER_BASE:-/run/mpiview-cluster}
  cluster_base=${cluster_base%/}
else
  cluster_base=
fi
made_cluster=0
if [ -r "$state_file" ]; then
  # shellcheck source=/dev/null
  old=$(nodes=; cluster_base=; source "$state_file"; echo "$nodes $cluster_base")
  if [ "$old" = "$n_nodes $cluster_base" ]; then
    # shellcheck source=/dev/null
    made_cluster=$(made_cluster=0; source "$state_file"; echo "$made_cluster")
  else
    say "a Slurm of another shape is up ($old): taking it down first"
    "$slurm_scripts/down.sh"
  fi
fi

# Writes the state file (down.sh and exec.sh read it); first thing, so that down.sh finds what
# a failed run left.
write_state() {
  mkdir -p "$base"
  {
    echo "# $marker: what is up (sourced by down.sh and exec.sh)."
    printf 'nodes=%q\ncluster_base=%q\nmade_cluster=%q\nctld_netns=%q\nctld_uts=%q\n' \
      "$n_nodes" "$cluster_base" "$made_cluster" "${ctld_netns:-}" "${ctld_uts:-}"
  } > "$state_file.new"
  mv "$state_file.new" "$state_file"
}
write_state

# The nodes: names, addresses and (on the cluster) namespaces.
names=() addrs=()
declare -A netns_of uts_of
if ((n_nodes > 1)); then
  if [ ! -e "$cluster_base" ]; then made_cluster=1; write_state; fi
  MPIVIEW_CLUSTER_BASE=$cluster_base MPIVIEW_CLUSTER_NODES=$n_nodes "$cluster_scripts/up.sh" ||
    die "the test cluster did not come up (scripts/cluster/up.sh)"
  # $cluster_base/nodes: "name address netns uts-file", one node a line.
  while read -r name addr ns uts; do
    names+=("$name") addrs+=("$addr")
    netns_of[$name]=/run/netns/$ns uts_of[$name]=$uts
  done < "$cluster_base/nodes"
  ((${#names[@]} == n_nodes)) || die "the cluster has ${#names[@]} nodes, not $n_nodes"
  ctld_netns=${netns_of[${names[0]}]} ctld_uts=${uts_of[${names[0]}]}
else
  names=("$(hostname -s)") addrs=(127.0.0.1)
  ctld_netns= ctld_uts=
fi
write_state
ctld=${names[0]} ctld_addr=${addrs[0]}

# Runs a command (a daemon) inside node $1's namespaces, or here on one node.
in_node() {
  local node=$1
  shift
  if ((n_nodes > 1)); then
    nsenter --net="${netns_of[$node]}" --uts="${uts_of[$node]}" -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$base"/{ctld,d,log,run,tmp,db,etc,munge}
for name in "${names[@]}"; do
  mkdir -p "$base/d/$name" "$base/tmp/$name"
  chmod 1777 "$base/tmp/$name"
done

# munged of our own, on its own socket (a file: daemons and commands in every node use it), with
# the machine's key (the package makes one).
[ -s /etc/munge/munge.key ] || die "no /etc/munge/munge.key (the munge package makes it)"
chown munge:munge "$base/munge"
chmod 755 "$base/munge"
munge_ok() { munge -S "$munge_socket" -n 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1; }
if ! running "$base/run/munged.pid" munged; then
  runuser -u munge -- /usr/sbin/munged --socket="$munge_socket" --key-file=/etc/munge/munge.key \
    --pid-file="$base/munge/munged.pid" --seed-file="$base/munge/munged.seed" \
    --log-file="$base/munge/munged.log" ||
    { tail -n 5 "$base/munge/munged.log" >&2 2>/dev/null; die "munged did not start"; }
  for _ in $(seq 50); do [ -s "$base/munge/munged.pid" ] && break; sleep 0.1; done
  cp "$base/munge/munged.pid" "$base/run/munged.pid"
fi
for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
munge_ok || die "munged does not answer on $munge_socket (see $base/munge/munged.log)"

# Installs $2 (a new file) as $1 with mode $3 unless equal. Returns 0 when it changed $1.
install_conf() {
  if cmp -s "$2" "$1"; then rm -f "$2"; return 1; fi
  install -m "$3" "$2" "$1"
  rm -f "$2"
}

mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 / n_nodes ))
new=$(mktemp)
{
  cat <<CONF
# $marker: a test cluster of $n_nodes node(s).
ClusterName=mpiview
SlurmctldHost=$ctld($ctld_addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
# %n: the node's name. The nodes share this filesystem: each slurmd needs its own pid file, log
# and spool, and each its own TmpFS, where srun's PMIx plugin makes its per-step directories.
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd-%n.pid
StateSaveLocation=$base/ctld
SlurmdSpoolDir=$base/d/%n
TmpFS=$base/tmp/%n
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd-%n.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$ctld_addr
# For the slurmdbd plugin this names the munge socket of slurmctld's connection to slurmdbd.
AccountingStoragePass=$munge_socket
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
CONF
  for i in "${!names[@]}"; do
    echo "NodeName=${names[$i]} NodeAddr=${addrs[$i]} CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem_mb State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP"
} > "$new"
restart=0
install_conf "$conf" "$new" 644 && restart=1

# slurmdbd.conf: slurmdbd reaches MariaDB through the Unix socket of MYSQL_UNIX_PORT.
db_sock=$base/db/mysqld.sock
new=$(mktemp)
cat > "$new" <<CONF
# $marker.
AuthType=auth/munge
AuthInfo=socket=$munge_socket
DbdHost=$ctld
DbdAddr=$ctld_addr
SlurmUser=root
PidFile=$base/run/slurmdbd.pid
LogFile=$base/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
CONF
install_conf "$dbd_conf" "$new" 600 && restart=1

if [ "$restart" = 1 ]; then
  for f in "$base"/run/slurmd-*.pid; do [ -e "$f" ] && stop "$f" slurmd; done
  stop "$base/run/slurmctld.pid" slurmctld
  stop "$base/run/slurmdbd.pid" slurmdbd
fi

# Waits until "$@" (quiet) succeeds, at most $timeout_s seconds; $1 of the message: what.
wait_for() {
  local what=$1 deadline=$((SECONDS + timeout_s))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  say "$what ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
}
logs() { tail -n 20 "$@" >&2 2>/dev/null || true; }
# Whether daemon $1 runs (pid file run/$1.pid); fails the whole script when it died, since
# waiting is then pointless. No pid file yet: not yet (a daemon writes it once it forked).
alive() {
  running "$base/run/$1.pid" "$1" && return 0
  [ -e "$base/run/$1.pid" ] || return 1
  logs "$base/log/$1.log"
  die "$1 died (see $base/log/$1.log)"
}
# Starts daemon $2 (pid file $1) with the command "${@:3}" in node $3 unless it runs.
start() {
  local pidfile=$1 name=$2
  shift 2
  running "$pidfile" "$name" && return 0
  rm -f "$pidfile"
  in_node "$@" || die "$name did not start (see $base/log)"
}

# MariaDB for slurmdbd: a private server on a Unix socket (--skip-networking), its data under
# $base/db, in the controller's node.
if ! running "$base/run/mariadbd.pid" mariadbd; then
  rm -f "$base/run/mariadbd.pid"
  if [ ! -e "$base/db/initialized" ]; then
    rm -rf "$base/db/data"
    mariadb-install-db --no-defaults --user=root --datadir="$base/db/data" --skip-test-db \
      --auth-root-authentication-method=normal --skip-name-resolve --innodb-log-file-size=8M \
      > "$base/log/mariadb-install-db.log" 2>&1 ||
      { logs "$base/log/mariadb-install-db.log"; die "mariadb-install-db failed"; }
    : > "$base/db/initialized"
  fi
  in_node "$ctld" setsid -f /usr/sbin/mariadbd --no-defaults --user=root --datadir="$base/db/data" \
    --socket="$db_sock" --pid-file="$base/run/mariadbd.pid" --skip-networking --skip-name-resolve \
    --innodb-buffer-pool-size=32M --innodb-log-file-size=8M --log-error="$base/log/mariadbd.log" \
    < /dev/null > /dev/null 2>&1
fi
db_up() { running "$base/run/mariadbd.pid" mariadbd && mariadb --no-defaults -S "$db_sock" -u root -e 'select 1' >/dev/null 2>&1; }
wait_for "MariaDB" db_up || { logs "$base/log/mariadbd.log"; die "MariaDB did not start (see $base/log/mariadbd.log)"; }

start "$base/run/slurmdbd.pid" slurmdbd "$ctld" env MYSQL_UNIX_PORT="$db_sock" /usr/sbin/slurmdbd
dbd_up() { alive slurmdbd && in_node "$ctld" timeout 2 bash -c "exec 3<>/dev/tcp/$ctld_addr/6819" 2>/dev/null; }
wait_for "slurmdbd" dbd_up || { logs "$base/log/slurmdbd.log"; die "slurmdbd does not answer (see $base/log/slurmdbd.log)"; }

start "$base/run/slurmctld.pid" slurmctld "$ctld" /usr/sbin/slurmctld -c
for name in "${names[@]}"; do
  # slurmd takes its node name from the hostname: node<i> in that node's UTS namespace.
  start "$base/run/slurmd-$name.pid" slurmd "$name" /usr/sbin/slurmd
done

# Every node idle (resumed if it came back down), and the cluster registered with slurmdbd
# (slurmctld does that at start: jobs before it would miss accounting).
nodes_idle() {
  local states name state
  alive slurmctld
  states=$(ctl timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null) || return 1
  for name in "${names[@]}"; do
    state=$(awk -v n="$name" '$1 == n {print $2; exit}' <<< "$states")
    case "$state" in
      idle|mix|alloc|comp) ;;
      down*|drain*|fail*) ctl scontrol update nodename="$name" state=resume >/dev/null 2>&1 || true; return 1 ;;
      *) return 1 ;;
    esac
  done
}
registered() { ctl timeout 10 sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx mpiview; }
if ! wait_for "$n_nodes node(s) idle" nodes_idle; then
  logs "$base/log/slurmctld.log" "$base"/log/slurmd-*.log
  die "the nodes are not up: $(ctl timeout 10 sinfo -h -N -o '%N %t' 2>&1 | tr '\n' ' ')"
fi
wait_for "accounting" registered || { logs "$base/log/slurmctld.log" "$base/log/slurmdbd.log"; die "the cluster is not registered with slurmdbd"; }

where=here
((n_nodes > 1)) && where="in the test cluster ($cluster_base); Slurm commands: scripts/slurm/exec.sh CMD"
say "up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s: $(IFS=,; echo "${names[*]}") idle, $cpus CPUs each, $where; logs in $base/log"
