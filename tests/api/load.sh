#!/usr/bin/env bash
# Load test of `locus serve` on a tiny random model (load.mjs): N concurrent clients for D seconds on loopback,
# 4 slots and a queue of 32 so that 16 clients fit. Then a request must still complete and SIGTERM exit 0.
# usage: load.sh LOCUS LOCUS_MKMODEL [CLIENTS=16] [SECONDS=120]
set -u
locus=$1 mkmodel=$2 clients=${3:-16} seconds=${4:-120}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "node not found: skipped"; exit 77; }
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

"$mkmodel" --preset tiny --type Q8_0 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
port=$(free_port)
# Requests name models, never files: the GGUF is served as "m".
LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --slots 4 --max-queue 32 --ctx 1024 --threads 2 \
  --model "m=$dir/m.gguf" >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1
# Load the model before the clock starts, so the first quarter's RSS sample is after warm-up.
curl -s "http://127.0.0.1:$port/api/generate" -d '{"model":"m","prompt":""}' >/dev/null

node "$here/load.mjs" --base "http://127.0.0.1:$port" --pid "$pid" --model m \
  --clients "$clients" --seconds "$seconds"
rc=$?
out=$(curl -s --max-time 30 "http://127.0.0.1:$port/api/generate" \
  -d '{"model":"m","prompt":"Hi","stream":false,"options":{"num_predict":4}}')
case $out in *'"done":true'*) echo "ok   a request after the load completes" ;;
  *) echo "FAIL after the load: $out"; rc=1 ;; esac
kill "$pid"
if wait "$pid"; then echo "ok   SIGTERM exits 0"; else echo "FAIL SIGTERM exit code"; rc=1; fi
pid=
[ $rc -ne 0 ] && { echo "--- server log (errors)"; grep -v '"status":200' "$dir/log" | tail -n 20; }
exit $rc
