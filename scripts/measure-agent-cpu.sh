#!/usr/bin/env bash
# Measures the CPU time of one ovs-mesh agent, its ping children included, in a lab of
# HOSTS hosts, once per probe interval given as an argument (0 turns probes off).
#
#   scripts/measure-agent-cpu.sh [INTERVAL_SECONDS...]      (default: 0 10 5)
#
# Environment: HOSTS (default 10), DURATION seconds per interval (default 120),
# LAB name (default t-cpu). Builds the lab, runs the agent on host0 only, prints one line per
# interval and removes the lab, also on failure. Needs root and a built checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${HOSTS:-10}
DURATION=${DURATION:-120}
LAB=${LAB:-t-cpu}
WARMUP=15
TICK=$(getconf CLK_TCK)
intervals=("$@")
[ "${#intervals[@]}" -gt 0 ] || intervals=(0 10 5)

agent=""
cleanup() {
  if [ -n "$agent" ] && kill -0 "$agent" 2>/dev/null; then
    kill "$agent"
    wait "$agent" || true
  fi
  bin/ovs-mesh lab down --name "$LAB" >/dev/null 2>&1
}
trap cleanup EXIT

bin/ovs-mesh lab up --name "$LAB" --hosts "$HOSTS" --containers 1 >/dev/null 2>&1
dir=/var/lib/ovs-mesh/lab/$LAB
host=$dir/host0

# Fields 14 to 17 of /proc/PID/stat: utime, stime, and cutime, cstime of reaped children.
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

echo "agent CPU on host0 of a $HOSTS-host lab, $DURATION s per interval, $(nproc) CPUs"
for interval in "${intervals[@]}"; do
  ip netns exec "om-$LAB-host0" env OVS_RUNDIR="$host" node bin/ovs-mesh agent \
    --config "$dir/cluster.yaml" --host host0 --underlay-ip 198.18.0.10 \
    --ovsdb "$host/db.sock" --ovs-rundir "$host" --state-dir "$host/ovs-mesh" \
    --metrics-address off --probe-seconds "$interval" 2>/dev/null &
  agent=$!
  sleep "$WARMUP"
  before=$(ticks "$agent")
  sleep "$DURATION"
  after=$(ticks "$agent")
  kill "$agent"
  wait "$agent" || true
  agent=""
  percent=$(echo "scale=4; ($after - $before) * 100 / ($TICK * $DURATION)" | bc)
  printf 'probe interval %s s: %.2f%% of one CPU\n' "$interval" "$percent"
done
