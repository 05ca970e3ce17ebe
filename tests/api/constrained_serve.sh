#!/usr/bin/env bash
# Constrained answers through `locus serve` on the issue's tiny random model (loopback only): many seeds of
# Ollama `format`, OpenAI `response_format` and forced tool calls, streamed and not, thinking off and on,
# budgets from 8 to 256 tokens (constrained_serve.mjs says what is checked).
# usage: constrained_serve.sh LOCUS LOCUS_MKMODEL [N_REQUESTS]
set -u
locus=$1 mkmodel=$2 n=${3:-80}
dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

"$mkmodel" --preset tiny --type Q8_0 --seed 7 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
# Served by name (a request never names a file).
model=tiny

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --model "tiny=$dir/m.gguf" --slots 2 --ctx 2048 --threads 2 \
  >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
node "$(dirname "$0")/constrained_serve.mjs" "http://127.0.0.1:$port" "$model" "$n"
rc=$?
[ $rc -ne 0 ] && echo "server log (last lines):" && tail -n 20 "$dir/log"
exit $rc
