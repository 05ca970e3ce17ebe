#!/usr/bin/env bash
# Does batching pay? Aggregate generation tokens/s of `locus serve` with 1 and with N concurrent streams, beside
# llama.cpp's llama-server with the same number of parallel slots, on the same GGUF and threads; and the server's
# overhead per token: one stream through HTTP against the engine alone (`locus bench --sampled`).
#
#   bench/serve_parallel.sh [-t THREADS] [-s SLOTS] [-n TOKENS] [-r REPS] MODEL.gguf
#
# Prints the rates and the ratios: N-stream aggregate / 1 stream (each server), locus / llama.cpp, and the
# server's overhead per token, two ways: measured inside locus (its /metrics: scheduler bookkeeping, the server's
# sinks and the HTTP writes, per generated token, as a share of the token time seen by the client), and
# (HTTP single stream) / (engine alone), which is coarser (run-to-run noise of a few %). The aggregate counts the
# tokens that arrived while all N streams were generating (bench/serve_parallel.mjs); the whole round, prompts
# included, is printed beside it. Loopback only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=2 slots=4 gen=64 reps=2
while getopts "t:s:n:r:h" o; do
  case $o in
    t) threads=$OPTARG ;; s) slots=$OPTARG ;; n) gen=$OPTARG ;; r) reps=$OPTARG ;;
    *) sed -n 2,12p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n 2,12p "$0"; exit 2; }
model=$(realpath "$1")
locus=${LOCUS_BUILD_DIR:-$root/build}/bin/locus
llama_bin=$("$root/bench/llama_tools.sh")
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
port_locus=$((20000 + RANDOM % 20000)) port_llama=$((port_locus + 1))
ctx=$((gen + 256))

wait_ready() {  # url pid
  for _ in $(seq 1 600); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited during start-up" >&2; return 1; }
    sleep 0.5
  done
  echo "server did not come up at $1" >&2; return 1
}

# Engine alone, one stream (the same sampling loop the server runs, without HTTP).
"$locus" bench "$model" -t "$threads" -n "$gen" -r "$reps" --sampled --json >"$out/engine.json"

# Requests name models, never files: the GGUF is served under the name "bench".
"$locus" serve --host "127.0.0.1:$port_locus" --slots "$slots" --ctx "$ctx" --threads "$threads" \
  --keep-alive -1 --model "bench=$model" >"$out/locus.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$port_locus/" "${pids[-1]}"
node "$root/bench/serve_parallel.mjs" --url "http://127.0.0.1:$port_locus" --api ollama --model bench \
  --streams 1 --tokens 4 >/dev/null  # loads the model and warms up
# /metrics around each phase: the counters' differences are that phase's work.
curl -sf "http://127.0.0.1:$port_locus/metrics" >"$out/m0"
node "$root/bench/serve_parallel.mjs" --url "http://127.0.0.1:$port_locus" --api ollama --model bench \
  --streams 1 --tokens "$gen" --reps "$reps" >"$out/locus1.json"
curl -sf "http://127.0.0.1:$port_locus/metrics" >"$out/m1"
node "$root/bench/serve_parallel.mjs" --url "http://127.0.0.1:$port_locus" --api ollama --model bench \
  --streams "$slots" --tokens "$gen" --reps "$reps" >"$out/locusN.json"
curl -sf "http://127.0.0.1:$port_locus/metrics" >"$out/m2"
node -e 'const f=require("fs"),d=process.argv[1];
  f.writeFileSync(d+"/locus.json",JSON.stringify([...JSON.parse(f.readFileSync(d+"/locus1.json")),...JSON.parse(f.readFileSync(d+"/locusN.json"))]))' "$out"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

"$llama_bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port_llama" -t "$threads" -np "$slots" \
  -c $((ctx * slots)) --cont-batching --no-webui >"$out/llama.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$port_llama/health" "${pids[-1]}"
node "$root/bench/serve_parallel.mjs" --url "http://127.0.0.1:$port_llama" --api llama --streams 1 --tokens 4 >/dev/null
node "$root/bench/serve_parallel.mjs" --url "http://127.0.0.1:$port_llama" --api llama \
  --streams "1,$slots" --tokens "$gen" --reps "$reps" >"$out/llama.json"

node - "$out" "$slots" "$(basename "$model" .gguf)" "$gen" "$threads" <<'JS'
const fs = require('fs');
const [dir, slots, name, gen, threads] = process.argv.slice(2);
const med = a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const read = f => JSON.parse(fs.readFileSync(`${dir}/${f}`));
const agg = (runs, n) => med(runs.filter(r => r.streams === n).map(r => r.aggregate_tps));
const L = read('locus.json'), G = read('llama.json'), E = read('engine.json');
const l1 = agg(L, 1), ln = agg(L, +slots), g1 = agg(G, 1), gn = agg(G, +slots);
console.log(`model ${name}, ${gen} tokens per stream, ${threads} threads, ${slots} slots, medians`);
console.log(`${'server'.padEnd(12)} ${'1 stream t/s'.padStart(13)} ${(slots + ' streams t/s').padStart(14)} ${'batching gain'.padStart(14)}`);
console.log(`${'locus'.padEnd(12)} ${l1.toFixed(2).padStart(13)} ${ln.toFixed(2).padStart(14)} ${(ln / l1).toFixed(2).padStart(13)}x`);
console.log(`${'llama-server'.padEnd(12)} ${g1.toFixed(2).padStart(13)} ${gn.toFixed(2).padStart(14)} ${(gn / g1).toFixed(2).padStart(13)}x`);
console.log(`locus / llama-server: 1 stream ${(l1 / g1).toFixed(2)}x, ${slots} streams ${(ln / gn).toFixed(2)}x`);
// Counters of one phase (the difference of two /metrics pages).
const metrics = f => Object.fromEntries(fs.readFileSync(`${dir}/${f}`, 'utf8').split('\n')
  .filter(l => l && !l.startsWith('#')).map(l => { const [k, v] = l.split(' '); return [k.replace(/^locus_/, ''), +v]; }));
const phase = (a, b) => { const A = metrics(a), B = metrics(b); return Object.fromEntries(Object.keys(B).map(k => [k, B[k] - (A[k] || 0)])); };
const overhead = (p, tps) => {
  const bookkeeping = p.scheduler_round_seconds_total - p.model_prompt_seconds_total - p.model_decode_seconds_total -
                      p.token_step_seconds_total;
  const server_s = bookkeeping + p.server_sink_seconds_total + p.http_write_seconds_total;
  const per_token_us = server_s / p.decode_tokens_total * 1e6;
  return `${per_token_us.toFixed(1)} us per token = ${(per_token_us * 1e-6 * tps * 100).toFixed(3)}% of the token time ` +
         `(scheduler ${(bookkeeping / p.decode_tokens_total * 1e6).toFixed(1)} us, sinks ` +
         `${(p.server_sink_seconds_total / p.decode_tokens_total * 1e6).toFixed(1)} us, HTTP writes ` +
         `${(p.http_write_seconds_total / p.decode_tokens_total * 1e6).toFixed(1)} us; ${p.decode_tokens_total} tokens)`;
};
console.log(`server overhead, measured in locus, 1 stream: ${overhead(phase('m0', 'm1'), l1)}`);
console.log(`server overhead, measured in locus, ${slots} streams: ${overhead(phase('m1', 'm2'), ln)}`);
const e = E.tg.tokens_per_s;
console.log(`1 stream over HTTP vs the engine alone (locus bench --sampled, ${e.toFixed(2)} t/s): ` +
            `${((e / l1 - 1) * 100).toFixed(2)}% (run-to-run noise is larger than the overhead)`);
const rnd = (runs, n) => med(runs.filter(r => r.streams === n).map(r => r.round_tps));
console.log(`whole round with ${slots} streams (prompts included): locus ${rnd(L, +slots).toFixed(2)} t/s, ` +
            `llama-server ${rnd(G, +slots).toFixed(2)} t/s`);
for (const [who, R] of [['locus', L], ['llama-server', G]]) {
  const ttft = R.filter(r => r.streams === +slots).flatMap(r => r.ttft_ms);
  console.log(`${who} time to first token with ${slots} streams: median ${med(ttft)} ms`);
}
JS
