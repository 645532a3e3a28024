#!/usr/bin/env bash
# Checks that #includes follow the layers, one way:
#
#   config <- storage <- protocol <- actors <- gateway <- net <- app
#
# A folder may include its own headers and those of the folders to its
# left; protocol/ must not include CAF, Boost or SQLite; actors/ must not
# include Boost (Beast is net's). Every layer folder needs a README.md
# saying what it holds. Prints every violation as file:line: reason and
# exits 1 if there is any.
#
#   scripts/check_layers.sh [ROOT]     default: the repository
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
layers=(config storage protocol actors gateway net app)
# External headers a layer must not see, as extended regexes.
declare -A forbidden=(
  [config]='^(caf|boost)/|^sqlite3\.h$'
  [storage]='^(caf|boost)/'
  [protocol]='^(caf|boost)/|^sqlite3\.h$'
  [actors]='^boost/'
  [gateway]='^boost/'
)

failures=0
fail() { echo "$1"; failures=$((failures + 1)); }

for ((i = 0; i < ${#layers[@]}; i++)); do
  layer=${layers[i]}
  dir="$root/$layer"
  [[ -d $dir ]] || { fail "$layer/: missing layer folder"; continue; }
  [[ -f $dir/README.md ]] || fail "$layer/README.md: missing (say what the folder holds, may include and must not)"
  allowed=("${layers[@]:0:i+1}")
  while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; text=${rest#*:}
    header=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$text")
    where="${file#"$root"/}:$line"
    if [[ $header == */* && ${header%%/*} =~ ^(config|storage|protocol|actors|gateway|net|app)$ ]]; then
      target=${header%%/*}
      ok=0
      for a in "${allowed[@]}"; do [[ $a == "$target" ]] && ok=1; done
      ((ok)) || fail "$where: $layer/ may not include $header (layers: ${layers[*]})"
    elif [[ -n ${forbidden[$layer]:-} && $header =~ ${forbidden[$layer]} ]]; then
      fail "$where: $layer/ may not include <$header>"
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include' "$dir" --include='*.hpp' --include='*.cpp' --include='*.in')
done

if ((failures)); then
  echo "check_layers: $failures violation(s)"
  exit 1
fi
echo "check_layers: includes follow ${layers[*]}"
