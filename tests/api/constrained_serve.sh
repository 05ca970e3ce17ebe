#!/usr/bin/env bash
# Constrained answers through `locus serve` on the issue's tiny random model (loopback only): many seeds of
# Ollama `format`, OpenAI `response_format` and forced tool calls, streamed and not, thinking off and on,
# budgets from 8 to 256 tokens (constrained_serve.mjs says what is checked).
# usage: constrained_serve.sh LOCUS LOCUS_MKMODEL [N_REQUESTS]
set -u
locus=$1 mkmodel=$2 n=${3:-80}
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

"$mkmodel" --preset tiny --type Q8_0 --seed 7 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
# Served by name (a request never names a file).
model=tiny

port=$(free_port)
env LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --model "tiny=$dir/m.gguf" --slots 2 --ctx 2048 --threads 2 \
  >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1
node "$(dirname "$0")/constrained_serve.mjs" "http://127.0.0.1:$port" "$model" "$n"
rc=$?
[ $rc -ne 0 ] && echo "server log (last lines):" && tail -n 20 "$dir/log"
exit $rc
