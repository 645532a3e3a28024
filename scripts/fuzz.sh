#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, HERALD_FUZZ=ON, in
# build-fuzz/) and runs each for a bounded time, starting from its kept corpus
# (tests/fuzz/corpus/TARGET/) and its regression inputs. Inputs it finds go to
# build-fuzz/run/TARGET/ (git-ignored, emptied at each run): the repository is
# never modified. Exits non-zero if any target crashes, leaks, trips a
# sanitizer or an invariant, or times out, and prints the saved input's path.
# See docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 20);
#                                           targets: client_frame rest_body config
#                                           server_api (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(client_frame rest_body config server_api)
usage() {
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS per target, default 20;" \
    "targets: ${all_targets[*]}; default all)"
}
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi

seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "fuzz.sh: SECONDS must be a positive number, not '$seconds'" >&2
  usage >&2
  exit 2
fi
for t in "${targets[@]}"; do
  if ! [[ " ${all_targets[*]} " == *" $t "* ]]; then
    echo "fuzz.sh: no fuzz target '$t'" >&2
    usage >&2
    exit 2
  fi
done

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ is missing (scripts/setup.sh --deps-only installs it)" >&2
  exit 1
fi

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DHERALD_FUZZ=ON >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"

# Sanitizer reports are fatal; libFuzzer saves the input that caused one.
# Set here rather than taken from the caller (scripts/test.sh exports its
# own for the test suite).
export ASAN_OPTIONS="detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
for t in "${targets[@]}"; do
  run="$build/run/$t"
  rm -rf "$run"
  mkdir -p "$run/new" "$run/artifacts"
  # The first directory receives the new inputs; the kept ones are only read.
  dirs=("$run/new" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  echo "fuzz.sh: $t for ${seconds}s (log: $run/log)"
  status=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -dict="tests/fuzz/$t.dict" -artifact_prefix="$run/artifacts/" "${dirs[@]}" \
    >"$run/log" 2>&1 || status=$?
  # "#N DONE cov: C ft: F corp: UNITS/SIZE exec/s: E rss: R"
  grep -E '^#[0-9]+[[:space:]]+DONE' "$run/log" | tail -n 1 | sed "s/^/fuzz.sh: $t: /" || true
  artifacts=("$run"/artifacts/*)
  if [ "$status" -ne 0 ] || [ -e "${artifacts[0]}" ]; then
    echo "fuzz.sh: $t FAILED (exit $status); the end of its log:" >&2
    tail -n 40 "$run/log" >&2
    for a in "${artifacts[@]}"; do
      [ -e "$a" ] && echo "fuzz.sh: $t: crashing input: $a" >&2
    done
    echo "fuzz.sh: reproduce with $build/tests/fuzz/fuzz_$t INPUT" >&2
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${targets[*]}: no crash in ${seconds}s each"
