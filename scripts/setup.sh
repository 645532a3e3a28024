#!/usr/bin/env bash
# Sets up herald on Debian 12: installs the Debian (and npm) packages the
# build and the tests need, then configures and builds the release tree in
# build/ (the server binary is build/herald). Idempotent; run as root or with
# sudo available.
#
#   scripts/setup.sh              install what is missing, build build/
#   scripts/setup.sh --deps-only  only install what is missing (and build the
#                                 demo page, which the binary embeds)
set -euo pipefail
cd "$(dirname "$0")/.."

deps_only=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    *) echo "setup.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config git ca-certificates
  libcaf-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev
  libsqlite3-dev sqlite3 libgtest-dev libgmock-dev
  libtomlplusplus-dev rapidjson-dev libspdlog-dev libjwt-dev libssl-dev
  clang-format chromium
  # ccache: rebuilds of the two trees (build/, build-asan/) and of other
  # checkouts reuse each other's objects (scripts/test.sh sets it up).
  ccache
  # scripts/fuzz.sh: clang, and libclang-rt-14-dev for libclang_rt.fuzzer
  # (only a recommendation of clang's, and recommends are not installed).
  clang libclang-rt-14-dev
)
# Node.js and npm drive the end-to-end tests and build the demo page; keep a
# newer Node that is already installed rather than replacing it.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

# npm packages, from the lock files: the demo page (embedded into the binary
# at build time) and the end-to-end tests' SDK, ws and playwright-core.
for dir in web tests/e2e; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
(cd web && npm run --silent build)

((deps_only)) && exit 0

# ccache as in scripts/test.sh: any clone of the repo hits the same cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build build -j"$(nproc)"
echo "setup.sh: built build/herald"
