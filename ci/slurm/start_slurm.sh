#!/usr/bin/env bash
# Install (Debian packages) and start a single-node Slurm on this machine, for CI and for trying the
# SLURM profile locally. Idempotent: reinstalls nothing, rewrites slurm.conf only when it changes,
# and starts only the daemons that are not running. Needs root.
#
# What works in a container without systemd or a delegated cgroup tree (see docs/cluster.md):
# ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SlurmUser=root and SlurmdUser=root, no
# accounting database (AccountingStorageType=accounting_storage/none), so Snakemake must query job
# states with squeue (--slurm-status-command squeue) and submit without an account
# (--slurm-no-account); MinJobAge=300 keeps finished jobs visible to squeue long enough.
set -euo pipefail

log() { echo "start_slurm: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (installs packages and starts daemons)"
  exit 1
fi

packages=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cpus=$(nproc)
# Leave room for the OS; RealMemory must not exceed what slurmd detects or the node is drained.
mem_mb=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 512 ))

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
conf=$(mktemp)
cat >"$conf" <<CONF
# Single-node Slurm written by ci/slurm/start_slurm.sh: controller and compute node on localhost.
ClusterName=stsmeta-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroup delegation in containers: track processes by /proc and bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# squeue (no accounting database) must still see a job for a while after it ends.
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} Sockets=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
changed=0
if ! cmp -s "$conf" /etc/slurm/slurm.conf; then
  install -m 644 "$conf" /etc/slurm/slurm.conf
  changed=1
fi
rm -f "$conf"

if [[ ! -s /etc/munge/munge.key ]]; then
  log "creating a munge key"
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key /run/munge
chmod 400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  log "starting munged"
  runuser -u munge -- munged
fi

running() { pgrep -x "$1" >/dev/null; }
if ((changed)); then
  for d in slurmctld slurmd; do
    if running "$d"; then
      log "slurm.conf changed: restarting $d"
      kill "$(pgrep -x "$d")"
      for _ in $(seq 50); do running "$d" || break; sleep 0.2; done
    fi
  done
fi
if ! running slurmctld; then
  log "starting slurmctld"
  slurmctld
fi
if ! running slurmd; then
  log "starting slurmd"
  slurmd -N localhost
fi

# Wait until the node takes jobs.
for _ in $(seq 60); do
  state=$(sinfo -h -N -n localhost -o '%t' 2>/dev/null || true)
  case "$state" in
    idle | mix | alloc) log "node localhost is $state"; exit 0 ;;
    drain* | down*) scontrol update NodeName=localhost State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
log "slurm did not come up; last node state: ${state:-none}"
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
