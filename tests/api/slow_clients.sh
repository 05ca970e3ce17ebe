#!/usr/bin/env bash
# Idle and slow connections (slow_clients.mjs) against `locus serve` on a tiny random model, loopback only:
# streams and /api/version with N idle or slow-dripping connections open must stay within a small bound of
# their figures without them, and the server must close those connections at its deadlines.
# usage: slow_clients.sh LOCUS LOCUS_MKMODEL [CONNECTIONS=1000]
set -u
locus=$1 mkmodel=$2 connections=${3:-1000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "node not found: skipped"; exit 77; }
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

"$mkmodel" --preset tiny --type Q8_0 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
port=$(free_port)
ulimit -n "$(ulimit -Hn)" 2>/dev/null
LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --model "tiny=$dir/m.gguf" --slots 4 \
  --max-queue 32 --ctx 1024 --threads 2 >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1

node "$here/slow_clients.mjs" --base "http://127.0.0.1:$port" --model tiny --connections "$connections"
rc=$?
metrics=$(curl -s "http://127.0.0.1:$port/metrics" | grep -E '^locus_http_(open|refused|timed_out)')
echo "$metrics"
kill "$pid"
if wait "$pid"; then echo "ok   SIGTERM exits 0"; else echo "FAIL SIGTERM exit code"; rc=1; fi
pid=
[ $rc -ne 0 ] && { echo "--- server log (errors)"; grep -v '"status":200' "$dir/log" | tail -n 20; }
exit $rc
