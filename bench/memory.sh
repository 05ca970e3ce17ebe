#!/usr/bin/env bash
# Peak resident memory of locus and llama.cpp generating from the same GGUF with the same context, measured
# with /usr/bin/time -v in one run.
#
#   bench/memory.sh [-c CTX] [-t THREADS] [-n GEN] MODEL.gguf
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ctx=8192 threads=2 gen=32
while getopts "c:t:n:h" o; do
  case $o in c) ctx=$OPTARG ;; t) threads=$OPTARG ;; n) gen=$OPTARG ;; *) sed -n 2,6p "$0"; exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n 2,6p "$0"; exit 2; }
model=$1
locus=${LOCUS_BUILD_DIR:-$root/build}/bin/locus
llama_bin=$("$root/bench/llama_tools.sh")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

peak() { awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); printf "%.2f", $2 / 1048576}' "$1"; }
/usr/bin/time -v "$locus" run "$model" "Hello" --num-ctx "$ctx" --num-predict "$gen" --threads "$threads" \
  --temperature 0 >/dev/null 2>"$out/locus.txt" </dev/null
/usr/bin/time -v "$llama_bin/llama-completion" -m "$model" -c "$ctx" -n "$gen" -t "$threads" -p "Hello" \
  --temp 0 -no-cnv >/dev/null 2>"$out/llama.txt" </dev/null
printf '%-12s %s\n' "program" "peak RSS (GiB), context $ctx, $(basename "$model")"
printf '%-12s %s\n' locus "$(peak "$out/locus.txt")" llama.cpp "$(peak "$out/llama.txt")"
