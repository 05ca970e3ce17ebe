#!/usr/bin/env bash
# The cost of structured output: generation speed with and without a JSON Schema constraint, for locus and for
# llama.cpp (its own JSON Schema grammar), on the same GGUF with the same threads, alternated and repeated.
# Prints tokens/s medians, each engine's constrained/free ratio, and locus/llama.cpp under the constraint.
#
#   bench/constrained.sh [-t THREADS] [-n GEN] [-r REPS] MODEL.gguf
#
# Both sample with the same settings (temperature 0.8, top_k 40, top_p 0.9, seeded) from a short prompt.
# The schema (an object holding an array of at least 100 bounded strings, with numbers) cannot be finished
# within GEN tokens, so every run generates exactly GEN tokens and the mask work is exercised throughout:
# strings, keys, separators, numbers.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=2 gen=128 reps=3
while getopts "t:n:r:h" o; do
  case $o in
    t) threads=$OPTARG ;; n) gen=$OPTARG ;; r) reps=$OPTARG ;;
    *) sed -n 2,11p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n 2,11p "$0"; exit 2; }
model=$1
locus=${LOCUS_BUILD_DIR:-$root/build}/bin/locus
llama_bin=$("$root/bench/llama_tools.sh")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat >"$out/schema.json" <<'JSON'
{"type": "object",
 "properties": {"items": {"type": "array", "minItems": 100,
                          "items": {"type": "object",
                                    "properties": {"name": {"type": "string", "maxLength": 24},
                                                   "score": {"type": "number"}},
                                    "required": ["name", "score"]}}},
 "required": ["items"]}
JSON

llama_tps() {  # generation tokens/s from llama-completion's report: eval runs over eval + sampling time
  # (its "eval time" leaves sampling out, and the grammar's work is sampling work)
  sed -n -e 's/.*perf_print: *sampling time = *\([0-9.]*\) ms.*/s \1/p' \
    -e 's/.*perf_print: *eval time = *\([0-9.]*\) ms \/ *\([0-9]*\) runs.*/e \1 \2/p' "$1" |
    awk '$1 == "s" {s = $2} $1 == "e" {e = $2; n = $3} END {if (e > 0) printf "%.4f\n", n / ((e + s) / 1000)}'
}
for ((i = 0; i < reps; i++)); do
  "$locus" bench "$model" -t "$threads" -n "$gen" -r 1 --sampled --json >"$out/free.$i.json"
  "$locus" bench "$model" -t "$threads" -n "$gen" -r 1 --sampled --format "@$out/schema.json" --json >"$out/json.$i.json"
  common=(-m "$model" -t "$threads" -n "$gen" -c $((gen + 64)) -p "Hi" -no-cnv --temp 0.8 --top-k 40 --top-p 0.9 --seed $((1000 + i)))
  "$llama_bin/llama-completion" "${common[@]}" --ignore-eos </dev/null >/dev/null 2>"$out/llama-free.$i.log"
  "$llama_bin/llama-completion" "${common[@]}" -jf "$out/schema.json" </dev/null >/dev/null 2>"$out/llama-json.$i.log"
  llama_tps "$out/llama-free.$i.log" >"$out/llama-free.$i"
  llama_tps "$out/llama-json.$i.log" >"$out/llama-json.$i"
done
node - "$out" "$reps" "$(basename "$model" .gguf)" "$gen" <<'JS'
const fs = require('fs');
const [dir, reps, name, gen] = process.argv.slice(2);
const med = a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const r = { free: [], json: [], lfree: [], ljson: [] };
const tokens = [];
for (let i = 0; i < +reps; i++) {
  r.free.push(JSON.parse(fs.readFileSync(`${dir}/free.${i}.json`)).tg.tokens_per_s);
  const j = JSON.parse(fs.readFileSync(`${dir}/json.${i}.json`));
  r.json.push(j.tg.tokens_per_s);
  tokens.push(j.tg.tokens[0]);
  for (const [k, f] of [['lfree', 'llama-free'], ['ljson', 'llama-json']]) {
    const v = parseFloat(fs.readFileSync(`${dir}/${f}.${i}`, 'utf8'));
    if (!(v > 0)) throw new Error(`no timing from llama-completion (${f}.${i}.log)`);
    r[k].push(v);
  }
}
const [a, b, c, d] = [med(r.free), med(r.json), med(r.lfree), med(r.ljson)];
console.log(`model ${name}, tg${gen}, medians of ${reps} (locus constrained runs generated ${tokens.join(', ')} tokens)`);
console.log(`${'engine'.padEnd(10)} ${'free t/s'.padStart(10)} ${'schema t/s'.padStart(11)} ${'schema/free'.padStart(12)}`);
console.log(`${'locus'.padEnd(10)} ${a.toFixed(2).padStart(10)} ${b.toFixed(2).padStart(11)} ${(b / a).toFixed(3).padStart(12)}`);
console.log(`${'llama.cpp'.padEnd(10)} ${c.toFixed(2).padStart(10)} ${d.toFixed(2).padStart(11)} ${(d / c).toFixed(3).padStart(12)}`);
console.log(`constrained locus / llama.cpp: ${(b / d).toFixed(2)}x`);
JS
