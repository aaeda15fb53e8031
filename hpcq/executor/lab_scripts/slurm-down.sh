#!/usr/bin/env bash
# Stop what scripts/slurm-up.sh started in DIR, by the PIDs in its pid files, leaving no orphans.
#   scripts/slurm-down.sh [DIR] [--purge]   (--purge also deletes DIR)
# Order matters: cancel jobs and wait for them (slurmd SIGKILLs tasks that ignore SIGTERM, as
# submitit's do, after KillWait=2 s), then slurmd, then slurmctld/slurmdbd/mariadbd together, then
# any slurmstepd (and its tasks) that outlived its slurmd, e.g. after a kill -9 of slurmd.
set -u
D=${1:-.slurm-lab}
PURGE=${2:-}
D=$(realpath -m "$D")
if [ ! -e "$D/.slurm-lab" ]; then
  echo "slurm-down: $D is not a slurm lab dir (no $D/.slurm-lab); nothing to do" >&2
  exit 0
fi
export SLURM_CONF=$D/slurm.conf
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ -f "$SLURM_CONF" ] && alive "$D/slurmctld.pid"; then
  scancel --quiet --user="$(id -un)" 2>/dev/null || true
  # wait only for jobs on nodes whose slurmd is alive (a dead slurmd's jobs never finish)
  live=$(for f in "$D"/slurmd-*.pid; do alive "$f" && basename "$f" .pid | sed 's/^slurmd-//'; done | paste -sd, -)
  if [ -n "$live" ]; then
    for _ in $(seq 1 150); do [ -z "$(timeout 5 squeue -h -w "$live" 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi
stop() {  # TERM the PIDs in the given pid files, wait up to 15 s, then KILL
  local pids="" f p left
  for f in "$@"; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    kill -0 "$p" 2>/dev/null && { kill "$p"; pids="$pids $p"; }
  done
  for _ in $(seq 1 150); do
    left=""; for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  echo "slurm-down: force-killing:$left" >&2
  kill -9 $left 2>/dev/null
  return 0
}
stop "$D"/slurmd-*.pid
stop "$D/slurmctld.pid" "$D/slurmdbd.pid" "$D/mariadbd.pid"

# Leftovers: processes of THIS lab only: Slurm daemons/slurmstepd whose environment names this
# lab's slurm.conf, job tasks (SLURM_JOB_ID set and this SLURM_CONF), holders of a step socket in
# its spool dir, and everything under those.
lab_pids() {
  local e p comm
  for e in /proc/[0-9]*/environ; do
    p=${e#/proc/}; p=${p%/environ}
    [ "$p" = $$ ] && continue
    grep -qzxF "SLURM_CONF=$SLURM_CONF" "$e" 2>/dev/null || continue
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    case "$comm" in
      slurmstepd|slurmd|slurmctld|slurmdbd|mariadbd) echo "$p";;
      *) grep -qz '^SLURM_JOB_ID=' "$e" 2>/dev/null && echo "$p";;
    esac
  done
  for s in "$D"/spool/*/*_*.*; do [ -S "$s" ] && fuser "$s" 2>/dev/null; done
}
descendants() { local k; for k in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$k"; descendants "$k"; done; }
left=$(lab_pids | tr -s ' ' '\n' | sort -u | grep -v '^$')
if [ -n "$left" ]; then
  all=$(for p in $left; do echo "$p"; descendants "$p"; done | sort -u | tr '\n' ' ')
  echo "slurm-down: killing leftover processes of $D: $all" >&2
  kill -9 $all 2>/dev/null
  sleep 0.2
fi
rm -f "$D"/*.pid
if [ "$PURGE" = --purge ]; then rm -rf "$D"; fi
echo "slurm lab in $D stopped"
