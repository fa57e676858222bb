#!/usr/bin/env bash
# Brings up a one-node Slurm cluster on this machine (Debian: munge + slurmctld + slurmd,
# Slurm 22.05, PMIx for `srun --mpi=pmix`), for testing the sbatch scripts in slurm/.
# Idempotent: when it is already up, only checks it. Needs root. No systemd: daemons are started
# directly and their pid files kept under $MPIVIEW_SLURM_BASE/run; stop them with down.sh.
#
#   MPIVIEW_SLURM_BASE   state, logs and pid files      (default /var/spool/mpiview-slurm)
#   MPIVIEW_SLURM_CPUS   CPUs the node advertises        (default 8: more than the cores, so
#                        scripts asking for -n 8 run oversubscribed on a small machine)
#   MPIVIEW_SLURM_NO_INSTALL=1   never call apt-get
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cpus=${MPIVIEW_SLURM_CPUS:-8}
node=$(hostname -s)
conf=/etc/slurm/slurm.conf
packages=(slurmctld slurmd slurm-client munge libpmix-dev openmpi-bin)

say() { echo "slurm-up: $*" >&2; }
die() { say "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

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

mkdir -p "$base"/{ctld,d,log,run} /etc/slurm

# munge: the key comes with the package; start munged unless it already answers.
mkdir -p /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || (umask 077; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none)
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$base/run/munged.pid" # started by us: down.sh stops it
fi

mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
new=$(mktemp)
cat > "$new" <<CONF
# Written by mpiview's scripts/slurm/up.sh: a one-node test cluster.
ClusterName=mpiview
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
StateSaveLocation=$base/ctld
SlurmdSpoolDir=$base/d
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
restart=0
if ! cmp -s "$new" "$conf"; then
  if [ -e "$conf" ] && ! grep -q "mpiview's scripts/slurm/up.sh" "$conf"; then
    cp -p "$conf" "$conf.before-mpiview"
    say "kept the existing $conf as $conf.before-mpiview"
  fi
  install -m 644 "$new" "$conf"
  restart=1
fi
rm -f "$new"

if [ "$restart" = 1 ]; then
  stop "$base/run/slurmd.pid" slurmd
  stop "$base/run/slurmctld.pid" slurmctld
fi
running "$base/run/slurmctld.pid" slurmctld || /usr/sbin/slurmctld -c || die "slurmctld did not start (see $base/log/slurmctld.log)"
running "$base/run/slurmd.pid" slurmd || /usr/sbin/slurmd || die "slurmd did not start (see $base/log/slurmd.log)"

deadline=$((SECONDS + ${MPIVIEW_SLURM_TIMEOUT:-60}))
while :; do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc|comp) break ;;
    down*|drain*|fail*) scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 20 "$base/log/slurmctld.log" "$base/log/slurmd.log" >&2 || true
    die "node $node is not up (state '${state:-none}')"
  fi
  sleep 0.3
done
say "up: node $node ($state), $cpus CPUs advertised, logs in $base/log"
