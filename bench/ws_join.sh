#!/usr/bin/env bash
# bench/ws_join.sh: many subscribers joining one channel, with the default
# config (the `chat` namespace has join_leave on). N clients connect and
# subscribe to chat:join, at most 200 handshakes (connect + subscribe) in
# flight; reported: the time until all are subscribed (ws_load gives up
# after 60 s) and herald's RSS growth per connection. Side by side in one run:
#
#   default        channels.join_leave_max_subscribers = 1000 (the default)
#   unlimited      join/leave pushed to every subscriber at any size (what
#                  herald did before the limit): O(N^2) pushes
#   off            namespaces.chat.join_leave = false
#
#   bench/ws_join.sh [N [VARIANT...]]     default: 10000 default unlimited off
#   HERALD=path/to/herald bench/ws_join.sh 10000 default off   another binary
#     (one built before channels.join_leave_max_subscribers knows only
#     `default` and `off`)
#   bench/ws_join.sh 50000 default       memory per subscribed connection at
#     50,000 (run as root or with a hard open-file limit above N + 1,000)
#
# Connection limits (websocket.max_connections, http.max_connections) are
# raised to fit N: they cap capacity, they are not what is measured. ws_load
# spreads more than 20,000 client sockets over 127.0.0.1, 127.0.0.2, ...
# (one source address has about 28,000 ephemeral ports).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
variants=("${@:2}")
((${#variants[@]})) || variants=(default unlimited off)
herald=${HERALD:-build/herald}
# Each side holds N sockets: more than the usual 1024 open files.
fds=$((n + 1000))
if (($(ulimit -Hn) < fds)); then
  ulimit -n "$fds" 2>/dev/null || {
    echo "ws_join.sh: $n connections need an open-file limit of $fds (hard limit $(ulimit -Hn))" >&2
    exit 2
  }
else
  ulimit -n "$(ulimit -Hn)"
fi
limits=(--websocket.max_connections=$((n + 1000)) --http.max_connections=$((n + 1000)))
data=$(mktemp -d /tmp/herald-bench-join.XXXXXX)
cleanup() {
  kill "${load_pid:-}" "${herald_pid:-}" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

port=18300
rss() { awk '/VmRSS/ {print $2}' "/proc/$herald_pid/status"; }

# run NAME [herald overrides...]
run() {
  local name=$1
  shift
  port=$((port + 1))
  "$herald" serve --data-dir "$data/$name" --listen "127.0.0.1:$port" --log-level warn \
    "${limits[@]}" "$@" &
  herald_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5 # let the node settle before the baseline
  local before after line
  before=$(rss)
  coproc LOAD { build/bench/ws_load --port "$port" --join "$n" --prefix chat:join --in-flight 200; }
  load_pid=$LOAD_PID
  read -r line <&"${LOAD[0]}"
  sleep 1
  after=$(rss)
  # Per connection subscribed (all of them unless ws_load gave up).
  local got
  got=$(awk '{print $4}' <<<"$line")
  ((got > 0)) || got=1
  printf '%-10s %s; RSS +%d KiB = %d.%d KiB per connection\n' "$name" "$line" \
    "$((after - before))" "$(((after - before) / got))" "$((((after - before) * 10 / got) % 10))"
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  kill "$herald_pid"
  wait "$herald_pid" 2>/dev/null || true
}

echo "# $n clients subscribing to one chat channel, 200 handshakes in flight, default config"
for v in "${variants[@]}"; do
  case $v in
    default) run default ;;
    unlimited) run unlimited --channels.join_leave_max_subscribers=100000000 ;;
    off) run off --namespaces.chat.join_leave=false ;;
    *) echo "ws_join.sh: unknown variant $v (default, unlimited, off)" >&2; exit 2 ;;
  esac
done
