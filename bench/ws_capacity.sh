#!/usr/bin/env bash
# bench/ws_capacity.sh: herald against a plain Node `ws` broadcast server
# (no persistence: bench/yardstick/server.mjs) under the same workload from
# bench/ws_load, side by side in one run; then herald's memory per idle
# connection.
#
#   bench/ws_capacity.sh [RATES...]        default: 250 500 1000 2000 4000 8000
#
# Workload: 1,000 subscriber connections over 10 channels (100 per channel),
# 10 publisher connections, 100-byte payloads, each rate for 5 s. herald runs
# with the durable journal on (journal.durability = full) and no projections
# (bench/herald-bench.toml). Capacity = the highest rate with no loss and
# p99 under 25 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
((${#rates[@]})) || rates=(250 500 1000 2000 4000 8000)
ulimit -n "$(ulimit -Hn)" # 10k idle connections need more than the usual 1024
data=$(mktemp -d /tmp/herald-bench-ws.XXXXXX)
cleanup() { kill "${herald_pid:-}" "${yard_pid:-}" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

build/herald serve --config bench/herald-bench.toml --data-dir "$data/h" --listen 127.0.0.1:18200 \
  --log-level warn &
herald_pid=$!
(cd bench/yardstick && exec node server.mjs 19200 > /dev/null) &
yard_pid=$!
sleep 1

echo "# fan-out: 1000 subscribers / 10 channels, 10 publishers, 100 B, 5 s per rate"
echo "# herald: durable journal (full), no projections; yardstick: Node ws relay, no persistence"
for rate in "${rates[@]}"; do
  h=$(build/bench/ws_load --port 18200 --protocol herald --prefix bench:c --rate "$rate" --seconds 5)
  y=$(build/bench/ws_load --port 19200 --protocol plain --prefix c --rate "$rate" --seconds 5)
  echo "herald    $h"
  echo "yardstick $y"
done

echo
echo "# memory: 10,000 idle WebSocket connections (connected, no subscriptions)"
kill "$herald_pid"; wait "$herald_pid" 2>/dev/null || true
build/herald serve --config bench/herald-bench.toml --data-dir "$data/m" --listen 127.0.0.1:18201 \
  --log-level warn &
herald_pid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$herald_pid/status"; }
before=$(rss)
coproc LOAD { build/bench/ws_load --port 18201 --protocol herald --idle 10000; }
read -r line <&"${LOAD[0]}"
echo "$line"
sleep 1
after=$(rss)
echo "herald RSS before ${before} KiB, with 10000 idle connections ${after} KiB:" \
     "$(( (after - before) * 1024 / 10000 / 1024 )).$(( ((after - before) * 1024 / 10000 % 1024) * 10 / 1024 )) KiB per connection"
kill "$LOAD_PID" 2>/dev/null || true
