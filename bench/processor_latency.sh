#!/usr/bin/env bash
# bench/processor_latency.sh: append -> delivery latency on a source channel
# and on the channel the default config's mentions processor derives from it
# (bench/processor_latency.mjs), with the processor waiting for the users
# read model (the default, wait_for = every read model it reads) and without
# (wait_for = []), each on a fresh herald with the embedded default config,
# durability full.
#
#   bench/processor_latency.sh [RATE] [SECONDS]      default: 1000 10
#   HERALD=path/to/herald bench/processor_latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-1000}
seconds=${2:-10}
herald=${HERALD:-build/herald}
[ -x "$herald" ] || { echo "processor_latency.sh: $herald is missing (scripts/setup.sh builds it)" >&2; exit 1; }
data=$(mktemp -d /tmp/herald-bench-processor-latency.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# The embedded default as a file, and the same with the mentions processor
# not waiting for its read model.
"$herald" config > "$data/waiting.toml"
# (The default config has one processor, mentions, waiting for users.)
sed 's/^wait_for = \[.*\]$/wait_for = []/' "$data/waiting.toml" > "$data/not-waiting.toml"
grep -q '^wait_for = \["users"\]$' "$data/waiting.toml" \
  || { echo "processor_latency.sh: the default config's mentions processor does not wait for users" >&2; exit 1; }

for variant in waiting not-waiting; do
  rm -rf "$data/h"
  "$herald" serve --config "$data/$variant.toml" --data-dir "$data/h" --listen 127.0.0.1:0 \
    --websocket.publish_rate=0 --websocket.command_rate=0 > "$data/herald.log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$data/herald.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "processor_latency.sh: herald did not start" >&2; cat "$data/herald.log" >&2; exit 1; }
  echo "# mentions processor $variant for the users read model"
  node bench/processor_latency.mjs --url "ws://127.0.0.1:$port/connection/websocket" \
    --rate "$rate" --seconds "$seconds"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
done
