#!/usr/bin/env bash
# Shows that scripts/check_layers.sh catches what it is for: builds a small
# tree that follows the layers (must pass), then adds one wrong-way include,
# one forbidden external header and one missing README (each must be named).
set -euo pipefail
check="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check_layers.sh"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

for layer in config storage protocol actors gateway net app; do
  mkdir -p "$tree/$layer"
  echo "# $layer" > "$tree/$layer/README.md"
done
echo '#include "config/settings.hpp"' > "$tree/storage/journal.cpp"
echo '#include <caf/all.hpp>' > "$tree/actors/node.cpp"
echo '#include <boost/beast.hpp>' > "$tree/net/server.cpp"
"$check" "$tree" > "$tree/clean.out" || { cat "$tree/clean.out"; echo "FAIL: a clean tree was rejected"; exit 1; }

echo '#include "gateway/session_actor.hpp"' >> "$tree/actors/node.cpp"
printf '// x\n#include <sqlite3.h>\n' > "$tree/protocol/frame.cpp"
rm "$tree/net/README.md"
if "$check" "$tree" > "$tree/bad.out"; then
  cat "$tree/bad.out"; echo "FAIL: violations were not reported"; exit 1
fi
for want in 'actors/node.cpp:2: actors/ may not include gateway/session_actor.hpp' \
            'protocol/frame.cpp:2: protocol/ may not include <sqlite3.h>' \
            'net/README.md: missing' 'check_layers: 3 violation(s)'; do
  grep -qF "$want" "$tree/bad.out" || { cat "$tree/bad.out"; echo "FAIL: expected: $want"; exit 1; }
done
echo "check_layers catches wrong-way includes, forbidden headers and missing READMEs"
