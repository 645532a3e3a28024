#!/usr/bin/env bash
# bench/ws_fanout.sh: herald's fan-out against the machine's yardstick, the
# minimal C++ epoll broadcast server (bench/yardstick/refserver.cpp: one
# thread, one send() per connection per loop turn, no durability), under the
# same load generator (bench/ws_load) in the same run.
#
#   bench/ws_fanout.sh [RATES...]          publications/s, default: 200 400 800
#   HERALD=path/to/herald bench/ws_fanout.sh ...   another herald binary
#
# Workload (environment, defaults in brackets): CONNECTIONS [1000] subscriber
# connections over CHANNELS [1] channels (the yardstick has no channels:
# every connection gets every message, so compare with CHANNELS=1 or read
# per-subscriber figures), PUBLISHERS [10], SIZE [100] bytes of payload,
# SECONDS_PER_RATE [5], DURABILITY [full] (herald's journal.durability:
# full or normal). Each line: deliveries/s reached, loss, publish-to-delivery
# latency p50/p99/max from the scheduled send time. Capacity = the highest
# rate with no loss and p99 under 25 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
((${#rates[@]})) || rates=(200 400 800)
connections=${CONNECTIONS:-1000}
channels=${CHANNELS:-1}
publishers=${PUBLISHERS:-10}
size=${SIZE:-100}
seconds=${SECONDS_PER_RATE:-5}
durability=${DURABILITY:-full}
herald=${HERALD:-build/herald}
for bin in "$herald" build/bench/ws_load build/bench/refserver; do
  [ -x "$bin" ] || { echo "ws_fanout.sh: $bin is missing (scripts/setup.sh builds it)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
data=$(mktemp -d /tmp/herald-bench-fanout.XXXXXX)
cleanup() { kill "${herald_pid:-}" "${ref_pid:-}" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

# The bench namespace (bench/herald-bench.toml) with the chosen durability.
{ cat bench/herald-bench.toml; printf '\n[journal]\ndurability = "%s"\n' "$durability"; } \
  > "$data/herald.toml"

"$herald" serve --config "$data/herald.toml" --data-dir "$data/h" --listen 127.0.0.1:0 \
  --log-level info > "$data/herald.log" 2>&1 &
herald_pid=$!
build/bench/refserver --port 0 > "$data/ref.out" &
ref_pid=$!
for _ in $(seq 100); do
  herald_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$data/herald.log" | grep -o '[0-9]*$' || true)
  ref_port=$(grep -o 'LISTENING [0-9]*' "$data/ref.out" | grep -o '[0-9]*$' || true)
  [ -n "$herald_port" ] && [ -n "$ref_port" ] && break
  sleep 0.1
done
[ -n "$herald_port" ] && [ -n "$ref_port" ] || { echo "ws_fanout.sh: a server did not start" >&2; cat "$data/herald.log" >&2; exit 1; }

echo "# fan-out: $connections subscribers / $channels channel(s), $publishers publishers, $size B, ${seconds} s per rate"
echo "# herald: journal.durability = $durability, no projections; yardstick: refserver (no durability)"
load=(--connections "$connections" --publishers "$publishers" --size "$size" --seconds "$seconds")
# CPU seconds a process used (user + system), from /proc.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
run() { # NAME PID ws_load flags...
  local name=$1 pid=$2 before after line
  shift 2
  before=$(cpu "$pid")
  line=$(build/bench/ws_load "$@" "${load[@]}")
  after=$(cpu "$pid")
  printf '%-9s %s, server CPU %.2f s\n' "$name" "$line" "$(awk -v a="$after" -v b="$before" 'BEGIN {print a - b}')"
}
for rate in "${rates[@]}"; do
  run herald "$herald_pid" --port "$herald_port" --protocol herald --prefix bench:c \
    --channels "$channels" --rate "$rate"
  run yardstick "$ref_pid" --port "$ref_port" --protocol raw --rate "$rate"
done
