#!/usr/bin/env bash
# Installs what is missing, builds the test tree with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs every test: unit, crash
# and end-to-end; then runs each libFuzzer target for a short bound
# (scripts/fuzz.sh, build-fuzz/). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --deps-only

# ccache, with paths taken relative to this checkout and the build folder
# left out of the hash, so that another clone of the repo hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_SANITIZE=ON \
  -DHERALD_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build build-asan -j"$(nproc)"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest --output-on-failure -j2 --timeout 600) | tee build-asan/ctest.log

# A short fuzzing pass on top of the replayed corpus (docs/fuzzing.md).
scripts/fuzz.sh 20

# ctest's summary again, as the closing line of the run.
grep -E '^[0-9]+% tests passed' build-asan/ctest.log | tail -n 1 || true
