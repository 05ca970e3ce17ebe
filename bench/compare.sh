#!/usr/bin/env bash
# Speed of locus against llama.cpp on the same GGUF, the same thread count, prompt and generation lengths,
# measured in one run. Prints a table of tokens/s for both and the ratio locus/llama.cpp, for prompt
# processing (pp) and generation (tg), as medians over the repetitions.
#
#   bench/compare.sh [-t THREADS] [-p PROMPT] [-n GEN] [-r REPS] MODEL.gguf [MODEL.gguf ...]
#
# llama.cpp's llama-bench is built from the bundled source by bench/llama_tools.sh on first use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=2 prompt=512 gen=128 reps=3
while getopts "t:p:n:r:h" o; do
  case $o in
    t) threads=$OPTARG ;; p) prompt=$OPTARG ;; n) gen=$OPTARG ;; r) reps=$OPTARG ;;
    *) sed -n 2,9p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 2,9p "$0"; exit 2; }
locus=${LOCUS_BUILD_DIR:-$root/build}/bin/locus
llama_bin=$("$root/bench/llama_tools.sh")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

printf '%-28s %-4s %12s %12s %8s\n' model test "locus t/s" "llama.cpp" ratio
for m in "$@"; do
  name=$(basename "$m" .gguf)
  # Alternate the two programs so drift on a shared machine hits both alike.
  for ((i = 0; i < reps; i++)); do
    "$llama_bin/llama-bench" -m "$m" -t "$threads" -p "$prompt" -n "$gen" -r 1 -o json >"$out/llama.$i.json" 2>/dev/null
    "$locus" bench "$m" --threads "$threads" -p "$prompt" -n "$gen" -r 1 --json >"$out/locus.$i.json"
  done
  node - "$out" "$reps" "$name" <<'JS'
const fs = require('fs');
const [dir, reps, name] = process.argv.slice(2);
const med = a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const L = { pp: [], tg: [] }, G = { pp: [], tg: [] };
for (let i = 0; i < +reps; i++) {
  for (const r of JSON.parse(fs.readFileSync(`${dir}/llama.${i}.json`))) {
    (r.n_gen > 0 ? G.tg : G.pp).push(r.avg_ts);
  }
  const l = JSON.parse(fs.readFileSync(`${dir}/locus.${i}.json`));
  for (const k of ['pp', 'tg']) if (l[k]) L[k].push(l[k].tokens_per_s);
}
for (const k of ['pp', 'tg']) {
  if (!L[k].length || !G[k].length) continue;  // a test skipped with -p 0 or -n 0
  const a = med(L[k]), b = med(G[k]);
  console.log(`${name.padEnd(28)} ${k.padEnd(4)} ${a.toFixed(2).padStart(12)} ${b.toFixed(2).padStart(12)} ${(a / b).toFixed(2).padStart(7)}x`);
}
JS
done
