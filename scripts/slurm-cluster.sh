#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for running the checker's table
# as a job array (scripts/slurm-check.sh) where no cluster is at hand: CI
# starts it, runs a table through it and stops it.
#
#   scripts/slurm-cluster.sh start DIR   # munged, slurmctld, slurmd; waits until the node is idle
#   scripts/slurm-cluster.sh stop DIR
#
# DIR holds the state, spool, logs and pid files. Needs root and Debian's
# slurm-wlm and munge (scripts/deps.sh installs them). It writes
# /etc/slurm/slurm.conf (the path slurmctld, slurmd and the client commands
# read), keeping any earlier one as slurm.conf.orig until stop.
set -euo pipefail
cmd=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm-cluster.sh start|stop DIR}")
node=$(hostname -s)

start() {
  mkdir -p "$dir/state" "$dir/spool" /run/munge /etc/slurm
  chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged
  [ -f /etc/slurm/slurm.conf ] && [ ! -f /etc/slurm/slurm.conf.orig ] && cp /etc/slurm/slurm.conf /etc/slurm/slurm.conf.orig
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=faultline
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$node CPUs=$(nproc) State=UNKNOWN
PartitionName=faultline Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -c
  slurmd
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -1)
    [ "$state" = idle ] && { echo "slurm: node $node idle"; return 0; }
    sleep 1
  done
  echo "slurm: the node did not come up (state '${state:-none}'); logs in $dir" >&2
  tail -n 20 "$dir"/*.log >&2 || true
  return 1
}

stop() {
  scancel --user root 2>/dev/null || true
  for p in slurmd slurmctld; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  pkill -x munged 2>/dev/null || true
  for _ in $(seq 30); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || break
    sleep 1
  done
  if [ -f /etc/slurm/slurm.conf.orig ]; then mv /etc/slurm/slurm.conf.orig /etc/slurm/slurm.conf; else rm -f /etc/slurm/slurm.conf; fi
  echo "slurm: stopped"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
