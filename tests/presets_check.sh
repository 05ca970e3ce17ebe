#!/usr/bin/env bash
# On demand (not in the default suite: the real shapes take minutes each and up to tens of GB of disk):
# writes random Gemma 4 models with locus-mkmodel and checks that llama.cpp (the oracle) loads each one and
# that its logits are finite. Each file is deleted after its check.
#
#   tests/presets_check.sh [--layers N] [--types "Q4_K_M Q4_0 ..."] [--dir DIR] [PRESET ...]
#
# Defaults: every preset, types Q4_K_M, full depth. --layers N keeps a preset's width and layer pattern with
# N layers, for a quick structural check of the big shapes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${LOCUS_BUILD_DIR:-$root/build}/bin
layers="" types="Q4_K_M" dir=$(mktemp -d)
presets=()
while [ $# -gt 0 ]; do
  case $1 in
    --layers) layers=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) presets+=("$1"); shift ;;
  esac
done
[ ${#presets[@]} -gt 0 ] || mapfile -t presets < <("$bin/locus-mkmodel" --list-presets | awk '{print $1}')
fail=0
for p in "${presets[@]}"; do
  for t in $types; do
    f="$dir/$p-$t.gguf"
    args=(--preset "$p" --type "$t" -q -o "$f")
    [ -n "$layers" ] && args+=(--layers "$layers")
    start=$(date +%s)
    if ! "$bin/locus-mkmodel" "${args[@]}"; then echo "FAIL $p $t: mkmodel"; fail=1; continue; fi
    made=$(( $(date +%s) - start ))
    size=$(du -h "$f" | cut -f1)
    if out=$(node "$root/tools/oracle/oracle.mjs" eval-finite --model "$f" 2>&1); then
      echo "ok   $p $t${layers:+ ($layers layers)}: $size, written in ${made}s, llama.cpp logits finite"
    else
      echo "FAIL $p $t: $(echo "$out" | tail -1)"; fail=1
    fi
    rm -f "$f"
  done
done
exit $fail
