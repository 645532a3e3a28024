#!/usr/bin/env bash
# bench/crud_vs_es.sh: the chat workload done the CRUD way (bench/crud_server:
# one SQLite transaction per message, then notify) against herald (append to
# the journal, group commit, deliver from the log), side by side, under the
# same closed-loop load (bench/chat_load), same SQLite, same durability.
# docs/crud-vs-event-sourcing.md explains the comparison and the figures.
#
#   bench/crud_vs_es.sh            everything: writes $OUT/results.csv, then
#                                  $OUT/table.md and $OUT/crud-vs-es.svg
#   SVG=docs/crud-vs-event-sourcing.svg bench/crud_vs_es.sh   also the doc's plot
#
# Environment (defaults in brackets): WRITERS ["1 10 100"] concurrent writer
# connections, ROOMS ["1 100"] (1: one hot room), SYSTEMS ["herald crud-cas
# crud-lock"], REPS [3] (each configuration REPS times, the systems
# alternating), SECONDS_PER_RUN [5], POOL [16] crud_server's connection
# pool, SIZE [100] bytes per message, DURABILITY [full], OUT
# [build/crud-vs-es], HERALD [build/herald].
#
# Every run starts its server on a fresh data directory and checks it
# afterwards: every acknowledged message reached its subscriber exactly once
# (chat_load), and the stored state counts every message (crud_server's
# database check; herald's chat read model through GET /api/queries/rooms).
# Anything lost or miscounted stops the script with exit status 1.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a writers <<< "${WRITERS:-1 10 100}"
read -r -a rooms <<< "${ROOMS:-1 100}"
read -r -a systems <<< "${SYSTEMS:-herald crud-cas crud-lock}"
reps=${REPS:-3}
seconds=${SECONDS_PER_RUN:-5}
pool=${POOL:-16}
size=${SIZE:-100}
durability=${DURABILITY:-full}
out=${OUT:-build/crud-vs-es}
herald=${HERALD:-build/herald}
for bin in "$herald" build/bench/crud_server build/bench/chat_load; do
  [ -x "$bin" ] || { echo "crud_vs_es.sh: $bin is missing (build it: cmake --build build --target herald crud_server chat_load)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"
data=$(mktemp -d /tmp/herald-crud-vs-es.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

fail() { echo "crud_vs_es.sh: FAILED: $*" >&2; exit 1; }
# CPU seconds a process used (user + system), from /proc.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# A field of a one-line JSON object.
json() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Starts SYSTEM on a fresh directory; sets server_pid and port.
start() {
  local system=$1 dir=$data/run log
  rm -rf "$dir" && mkdir -p "$dir"
  log=$dir/server.log
  case $system in
    herald)
      # The embedded default config: the chat namespace and the chat
      # projection that builds the same rooms/messages tables crud_server
      # writes. Per-connection rate limits off: writers send as fast as
      # they are answered.
      "$herald" serve --data-dir "$dir/h" --listen 127.0.0.1:0 --log-level info \
        --journal.durability="$durability" --websocket.publish_rate=0 \
        --websocket.command_rate=0 > "$log" 2>&1 &
      ;;
    crud-cas | crud-lock)
      [ "$durability" = full ] || fail "crud_server has durability full only"
      build/bench/crud_server --db "$dir/crud.db" --pool "$pool" --mode "${system#crud-}" \
        > "$log" 2>&1 &
      ;;
    *) fail "unknown system $system" ;;
  esac
  server_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; fail "$system did not start"; }
}

# Stops the server and checks its stored state against ACKED; sets
# conflicts and busy (herald has neither: an append takes no lock on a row).
stop_and_check() {
  local system=$1 acked=$2 log=$data/run/server.log line stored=
  if [ "$system" = herald ]; then
    # The read model is built alongside delivery; wait (bounded) until it
    # has caught up with every acknowledged message.
    for _ in $(seq 100); do
      stored=$(curl -sf "http://127.0.0.1:$port/api/queries/rooms" \
        | python3 -c 'import json, sys; print(sum(r["messages"] for r in json.load(sys.stdin)["rows"]))' || true)
      [ "$stored" = "$acked" ] && break
      sleep 0.1
    done
    kill "$server_pid"; wait "$server_pid" || true; server_pid=
    [ "$stored" = "$acked" ] || fail "herald's rooms count $stored messages, $acked were acknowledged"
    conflicts=0 busy=0
  else
    kill "$server_pid"; wait "$server_pid" || { cat "$log" >&2; fail "crud_server's database check failed"; }
    server_pid=
    line=$(grep '"check"' "$log")
    [ "$(json "$line" check)" = ok ] || fail "crud_server: $line"
    [ "$(json "$line" committed)" = "$acked" ] || fail "crud_server committed $(json "$line" committed), $acked acknowledged"
    conflicts=$(json "$line" conflicts) busy=$(json "$line" busy_retries)
  fi
}

csv=$out/results.csv
echo "system,rooms,writers,rep,throughput,p50_ms,p99_ms,max_ms,acked,conflicts,busy_retries,out_of_order,server_cpu_s,client_seconds" > "$csv"
echo "# crud vs event sourcing: ${seconds} s per run, $reps reps, durability $durability, crud pool $pool, $size B messages"
for rep in $(seq "$reps"); do
  for r in "${rooms[@]}"; do
    for w in "${writers[@]}"; do
      # Alternate which system goes first, so drift in the machine's load
      # does not always favour the same one.
      order=("${systems[@]}")
      ((rep % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${systems[@]}" | tac)
      for system in "${order[@]}"; do
        start "$system"
        before=$(cpu "$server_pid")
        result=$(build/bench/chat_load --port "$port" --writers "$w" --rooms "$r" \
          --seconds "$seconds" --size "$size") || fail "$system, $r room(s), $w writer(s): messages lost or unanswered: $result"
        after=$(cpu "$server_pid")
        acked=$(json "$result" acked)
        stop_and_check "$system" "$acked"
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$system" "$r" "$w" "$rep" \
          "$(json "$result" throughput)" "$(json "$result" p50_ms)" "$(json "$result" p99_ms)" \
          "$(json "$result" max_ms)" "$acked" "$conflicts" "$busy" \
          "$(json "$result" out_of_order)" "$(awk -v a="$after" -v b="$before" 'BEGIN {print a - b}')" \
          "$(json "$result" seconds)" >> "$csv"
        tail -1 "$csv"
      done
    done
  done
done
python3 bench/crud_vs_es_plot.py "$csv" --table "$out/table.md" --svg "$out/crud-vs-es.svg"
[ -z "${SVG:-}" ] || cp "$out/crud-vs-es.svg" "$SVG"
cat "$out/table.md"
echo "# results: $csv, table: $out/table.md, plot: $out/crud-vs-es.svg"
