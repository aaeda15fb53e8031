#!/usr/bin/env bash
# Bring up a throw-away Slurm 22.05 cluster on this one host (Debian 12, root, no systemd needed).
#   scripts/slurm-up.sh [DIR]        (default DIR=.slurm-lab; everything lives under DIR)
#   python -m hpcq.executor.lab up [DIR]   (the same, from an installed wheel)
# Env knobs:
#   SLURM_LAB_NODES   virtual nodes n1..nN (default 3)
#   SLURM_LAB_CPUS    CPUs per node, overcommitted past the real cores (default 8)
#   SLURM_LAB_MEM_MB  RealMemory per node in MB (default 16000; not enforced, --mem only has to fit)
#   SLURM_LAB_DBD     1 = MariaDB + slurmdbd so real sacct works, 0 = no accounting (default 1)
#   SLURM_LAB_MPI     MpiDefault: pmi2 | pmix | none (default pmi2)
#   SLURM_LAB_PORT    slurmctld port; slurmdbd = PORT+2, slurmd of node i = PORT+9+i (default 6817),
#                     so two clusters with different ports coexist on one host
#   SLURM_LAB_SLURMD_TIMEOUT  seconds before a silent slurmd's node goes DOWN (default 10)
#   SLURM_LAB_CLUSTER ClusterName (default lab)
#   SLURM_LAB_QPU     a QPU name, e.g. vlq (default none): GresTypes=qpu with qpu:1 on every node,
#                     Licenses=iqm_qc_<name>:1, and a TaskProlog standing in for QRMI's SPANK plugin's
#                     environment effect: a job granted gres qpu or that license gets
#                     QRMI_JOB_QPU_RESOURCES=<name>, QRMI_JOB_QPU_TYPES=iqm-server and
#                     <name>_QRMI_IQM_ISA_ENDPOINT=$SLURM_LAB_QPU_ENDPOINT (docs/qpu.md)
#   SLURM_LAB_NO_APT=1  never apt-get (fail instead when packages are missing)
# Afterwards: export SLURM_CONF=DIR/slurm.conf  (printed as the last line). Stop: scripts/slurm-down.sh DIR
# Recipe and every gotcha: docs/slurm-lab.md.
set -euo pipefail
t0=$(date +%s.%N)
D=${1:-.slurm-lab}
N=${SLURM_LAB_NODES:-3}; CPUS=${SLURM_LAB_CPUS:-8}; DBD=${SLURM_LAB_DBD:-1}
MPI=${SLURM_LAB_MPI:-pmi2}; P=${SLURM_LAB_PORT:-6817}; MEM=${SLURM_LAB_MEM_MB:-16000}
SDT=${SLURM_LAB_SLURMD_TIMEOUT:-10}; CLUSTER=${SLURM_LAB_CLUSTER:-lab}
QPU=${SLURM_LAB_QPU:-}; QPU_ENDPOINT=${SLURM_LAB_QPU_ENDPOINT:-http://127.0.0.1:9}
die() { echo "slurm-up: $*" >&2; exit 1; }

for v in N CPUS P MEM SDT; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v=${!v} must be a positive integer"
done
[[ $DBD =~ ^[01]$ ]] || die "SLURM_LAB_DBD=$DBD must be 0 or 1"
[[ $MPI =~ ^(pmi2|pmix|none)$ ]] || die "SLURM_LAB_MPI=$MPI must be pmi2, pmix or none"
[[ $CLUSTER =~ ^[a-z][a-z0-9_]*$ ]] || die "SLURM_LAB_CLUSTER=$CLUSTER must be lower-case letters, digits, _"
[[ -z $QPU || $QPU =~ ^[a-z][a-z0-9_]*$ ]] || die "SLURM_LAB_QPU=$QPU must be lower-case letters, digits, _"
[[ $QPU_ENDPOINT =~ ^https?://[A-Za-z0-9.:/_-]+$ ]] || die "SLURM_LAB_QPU_ENDPOINT=$QPU_ENDPOINT is not a plain URL"
[ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as root here; SlurmUser=root)"
[ $((P + 9 + N)) -lt 65536 ] || die "SLURM_LAB_PORT=$P too high for $N nodes"

# --- packages (Debian 12: slurm-wlm 22.05) -------------------------------------------------
pkgs=(slurmctld slurmd slurm-client psmisc)
[ "$DBD" = 1 ] && pkgs+=(slurmdbd mariadb-server-core mariadb-client-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SLURM_LAB_NO_APT:-0}" = 1 ] && die "missing Debian packages: ${missing[*]} (SLURM_LAB_NO_APT=1)"
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get; install Slurm 22.05 by hand"
  echo "slurm-up: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the lab directory -------------------------------------------------------------------------
D=$(realpath -m "$D")
case "$D" in /|/root|/home|/tmp|/usr|/etc|/var|/work) die "refusing to use $D as a lab dir";; esac
for f in "$D"/*.pid; do   # refuse to clobber a live cluster; stale pid files are fine
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && die "$f is alive; run scripts/slurm-down.sh $D first"
done
if [ -e "$D" ] && [ -n "$(ls -A "$D" 2>/dev/null)" ] && [ ! -e "$D/.slurm-lab" ]; then
  die "$D exists, is not empty and is not a slurm lab dir; pick another DIR"
fi
for port in "$P" $([ "$DBD" = 1 ] && echo $((P + 2))) $(seq $((P + 10)) $((P + 9 + N))); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "port $port is in use; set SLURM_LAB_PORT to a free range"
done
rm -rf "$D"; mkdir -p "$D"/{state,log,spool,tmp}
touch "$D/.slurm-lab"
for i in $(seq 1 "$N"); do mkdir -p "$D/spool/n$i" "$D/tmp/n$i"; done
H=$(hostname -s)

acct="AccountingStorageType=accounting_storage/none"
if [ "$DBD" = 1 ]; then
  acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((P + 2))"
fi
cat > "$D/slurm.conf" <<CONF
# written by hpcq scripts/slurm-up.sh; nodes=$N cpus=$CPUS dbd=$DBD port=$P
ClusterName=$CLUSTER
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$P
# job ids unique per cluster (ports are): MPICH names its /dev/shm segments after the job, so
# parallel lab clusters all starting at job 1 made a later MPI job attach a stale segment
# ("MPIDI_POSIX_comm_bootstrap: Out of memory")
FirstJobId=$((P * 1000))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
TmpFS=$D/tmp/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
SlurmdTimeout=$SDT
ReturnToService=2
KillWait=2
MpiDefault=$MPI
MailProg=/bin/true
CommunicationParameters=NoInAddrAny
JobAcctGatherType=jobacct_gather/none
$acct
JobCompType=jobcomp/none
MinJobAge=3600
SlurmctldDebug=info
SlurmdDebug=info
NodeName=n[1-$N] NodeHostname=$H NodeAddr=127.0.0.1 Port=$((P + 10))-$((P + 9 + N)) CPUs=$CPUS RealMemory=$MEM State=UNKNOWN${QPU:+ Gres=qpu:1}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if [ -n "$QPU" ]; then
  # a QPU as Slurm sees it at a QRMI site: a count-only gres and a license per QC; the TaskProlog
  # prints the variables QRMI's SPANK plugin would export, for jobs granted either (docs/qpu.md)
  cat >> "$D/slurm.conf" <<CONF
GresTypes=qpu
Licenses=iqm_qc_$QPU:1
TaskProlog=$D/qpu-taskprolog.sh
CONF
  echo "NodeName=n[1-$N] Name=qpu Count=1" > "$D/gres.conf"
  cat > "$D/qpu-taskprolog.sh" <<PROLOG
#!/bin/bash
# written by hpcq slurm-up.sh: the environment effect of QRMI's SPANK plugin for QPU $QPU
job=\$(scontrol -o show job "\$SLURM_JOB_ID" 2>/dev/null)
if [[ \$job =~ gres/qpu|gres:qpu|Licenses=iqm_qc_$QPU ]]; then
  echo "export QRMI_JOB_QPU_RESOURCES=$QPU"
  echo "export QRMI_JOB_QPU_TYPES=iqm-server"
  echo "export ${QPU}_QRMI_IQM_ISA_ENDPOINT=$QPU_ENDPOINT"
  echo "export ${QPU}_QRMI_JOB_ACQUISITION_TOKEN=lab-\$SLURM_JOB_ID"
else
  echo "export QRMI_JOB_QPU_RESOURCES="
  echo "export QRMI_JOB_QPU_TYPES="
fi
PROLOG
  chmod 0755 "$D/qpu-taskprolog.sh"
fi
export SLURM_CONF=$D/slurm.conf

if [ "$DBD" = 1 ]; then
  mkdir -p "$D/db"
  mariadb-install-db --no-defaults --datadir="$D/db/data" --user=root \
      --auth-root-authentication-method=socket --skip-test-db > "$D/log/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed, see $D/log/mariadb-install.log"
  mariadbd --no-defaults --datadir="$D/db/data" --socket="$D/db/mysqld.sock" --skip-networking \
      --user=root --pid-file="$D/mariadbd.pid" --log-error="$D/log/mariadbd.err" \
      --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 400); do [ -S "$D/db/mysqld.sock" ] && break; sleep 0.05; done
  [ -S "$D/db/mysqld.sock" ] || die "mariadbd did not start, see $D/log/mariadbd.err"
  cat > "$D/slurmdbd.conf" <<CONF
AuthType=auth/none
DbdHost=$H
DbdAddr=127.0.0.1
DbdPort=$((P + 2))
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$D/slurmdbd.pid
LogFile=$D/log/slurmdbd.log
DebugLevel=info
CONF
  chmod 600 "$D/slurmdbd.conf"
  # slurmdbd reads slurmdbd.conf next to $SLURM_CONF; libmariadb takes the socket from MYSQL_UNIX_PORT
  MYSQL_UNIX_PORT="$D/db/mysqld.sock" slurmdbd
  for _ in $(seq 1 400); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.05; done
  sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd did not come up, see $D/log/slurmdbd.log"
fi

slurmctld
for i in $(seq 1 "$N"); do slurmd -N "n$i"; done
# ready = every node idle and a real step runs across all of them
all_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null | sort -u | tr '\n' ' ')" = "idle " ]; }
ok=0
for _ in $(seq 1 600); do
  all_idle && timeout 20 srun -N "$N" -n "$N" --mpi=none true 2>/dev/null && { ok=1; break; }
  sleep 0.1
done
[ $ok = 1 ] || { sinfo -N >&2; die "no step ran on all nodes within 60 s; logs in $D/log"; }
for _ in $(seq 1 300); do all_idle && break; sleep 0.1; done   # the test step may still be completing
all_idle || { sinfo -N >&2; die "nodes not idle; logs in $D/log"; }
echo "slurm lab up in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s: $N nodes x $CPUS CPUs, dbd=$DBD, MpiDefault=$MPI, port=$P, dir=$D"
echo "export SLURM_CONF=$D/slurm.conf"
