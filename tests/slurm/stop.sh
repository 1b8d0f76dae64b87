#!/usr/bin/env bash
# Stops what tests/slurm/start.sh started (the jobs, slurmd, slurmctld, munged) and removes its state folder; the
# Debian packages stay.
set -uo pipefail
STATE=${CURVEGAN_SLURM_STATE:-/tmp/curvegan-slurm}
[ -d "$STATE" ] || exit 0
export SLURM_CONF="$STATE/slurm.conf"
scancel --full --user="$(id -un)" 2>/dev/null
for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/munge/munged.pid"; do
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  fi
done
[ -e "$STATE/made-munge-key" ] && rm -f /etc/munge/munge.key
rm -rf "$STATE"
exit 0
