#!/usr/bin/env bash
# Throwaway single-node SLURM for CI: Debian 12 / Slurm 22.05, run as root, no systemd, no munge.
# usage: slurm-ci.sh up | down | status        state: $SLURM_CI_DIR (default /tmp/slurm-ci)
#
# Tested recipe (see the project notes on SLURM in CI). What it relies on:
# - the config must be /etc/slurm/slurm.conf: the jobstep plugin strips SLURM_CONF before its
#   in-job srun, so any other location makes every job fail;
# - auth/none + cred/none (still in 22.05, removed upstream in 23.11; use munge there);
# - a fake GPU: gres/gpu needs a File=, /dev/null is accepted; a Count-only entry is dropped;
# - no accounting (no slurmdbd): Snakemake must query status with squeue, and MinJobAge must be
#   at least 3x its first-check delay, or the plugin silently falls back to sacct and hangs;
# - jobs survive killed daemons, so `down` cancels them first and waits for the queue to drain.
# The node advertises the shape of a small GPU node (16 CPUs, 128 GB, 1 GPU) whatever the machine
# has (SlurmdParameters=config_overrides), so the project profile's GPU requests fit unchanged.
# Only one of these may run per machine: /etc/slurm and ports 6817/6818 are global.
set -euo pipefail
S=${SLURM_CI_DIR:-/tmp/slurm-ci}
NODE_CPUS=${SLURM_CI_CPUS:-16}
NODE_MEM_MB=${SLURM_CI_MEM_MB:-131072}

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null &&
    return 0
  # Never let the packages' init scripts start daemons (CI images usually block this already).
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
  fi
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client >/dev/null
  [ -z "$policy" ] || rm -f "$policy"
}

up() {
  install_packages
  if [ -f "$S/slurmctld.pid" ] || [ -f "$S/slurmd.pid" ]; then
    down # a previous run died without `down`
  fi
  rm -rf "$S"
  mkdir -p "$S/ctld" "$S/d" "$S/log" /etc/slurm
  rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf # never write through an old symlink
  cat >/etc/slurm/slurm.conf <<EOF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/d
SlurmctldPidFile=$S/slurmctld.pidfile
SlurmdPidFile=$S/slurmd.pidfile
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
ReturnToService=2
MinJobAge=300
KillWait=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=$NODE_MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
  printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=/dev/null\n' >/etc/slurm/gres.conf
  slurmctld -D >"$S/log/slurmctld.out" 2>&1 &
  echo $! >"$S/slurmctld.pid"
  slurmd -D -N localhost >"$S/log/slurmd.out" 2>&1 &
  echo $! >"$S/slurmd.pid"
  for _ in $(seq 1 150); do # 30 s
    if timeout 5 sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      timeout 5 sinfo
      return 0
    fi
    sleep 0.2
  done
  echo "slurm-ci: SLURM did not come up within 30 s" >&2
  timeout 5 sinfo >&2 || true
  tail -n 20 "$S"/log/* >&2 || true
  return 1
}

# A process that exited but was not reaped yet (PID 1 may be slow) counts as gone.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

down() {
  if [ -f "$S/slurmctld.pid" ]; then # jobs outlive the daemons: cancel and drain first (10 s)
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local name pid gone pids=()
  for name in slurmd slurmctld; do
    [ -f "$S/$name.pid" ] || continue
    pid=$(cat "$S/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.2
    done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$S/$name.pid"
    pids+=("$pid")
  done
  # They were orphaned to PID 1, which may reap slowly: give it a bounded while (20 s).
  for _ in $(seq 1 100); do
    gone=1
    for pid in "${pids[@]}"; do [ -e "/proc/$pid" ] && gone=0; done
    [ "$gone" = 1 ] && break
    sleep 0.2
  done
  rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
  rm -rf "$S"
}

status() {
  timeout 5 sinfo && timeout 5 squeue
}

case "${1:-}" in
  up | down | status) "$1" ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
