#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/test_slurm.py: Debian's slurmctld, slurmd and munge (installed
# if missing; that takes root), a short slurm.conf in its own state folder, the daemons started. Prints the line
# to source (export SLURM_CONF=...). tests/slurm/stop.sh stops everything this started and removes its folder.
#   eval "$(tests/slurm/start.sh)"   ...   tests/slurm/stop.sh
set -euo pipefail
STATE=${CURVEGAN_SLURM_STATE:-/tmp/curvegan-slurm}
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "installing Debian's slurmctld slurmd slurm-client munge" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge >&2; }
fi
rm -rf "$STATE" && mkdir -p "$STATE"/{ctld,slurmd,munge}
chmod 700 "$STATE/munge"
KEY=/etc/munge/munge.key
if [ ! -s "$KEY" ]; then  # the package makes one; if it did not, make one and remove it again at the stop
  mkdir -p /etc/munge && dd if=/dev/urandom bs=1 count=1024 of="$KEY" status=none && chmod 400 "$KEY"
  touch "$STATE/made-munge-key"
fi
HOST=$(hostname -s)
CPUS=$(nproc)
MEMORY=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cat > "$STATE/slurm.conf" <<CONF
ClusterName=curvegan
SlurmctldHost=$HOST
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobRequeue=1
KillWait=30
NodeName=$HOST CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$STATE/slurm.conf"
munged --force --socket="$STATE/munge/munge.socket.2" --pid-file="$STATE/munge/munged.pid" \
  --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed" --key-file="$KEY"
echo "AuthInfo=socket=$STATE/munge/munge.socket.2" >> "$SLURM_CONF"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do  # the node is ready when SLURM says it is idle
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 1
done
echo "tests/slurm/start.sh: the node never became idle; see $STATE/*.log" >&2
exit 1
