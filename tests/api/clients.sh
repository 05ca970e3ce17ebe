#!/usr/bin/env bash
# api-compat.md §2.10 with the real npm clients: starts `locus serve` on a free loopback port with a tiny random
# model and an empty temporary store (the suite pulls the model into it from a registry it serves itself on
# loopback), then runs clients.mjs against it. Skips (exit 77) when node or the pinned packages are missing.
# usage: clients.sh LOCUS LOCUS_MKMODEL NODE_MODULES
set -u
locus=$1 mkmodel=$2 modules=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "node not found: skipped"; exit 77; }
for p in ollama openai zod; do
  [ -d "$modules/$p" ] || { echo "$modules/$p missing (tools/README): skipped"; exit 77; }
done
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

"$mkmodel" --preset tiny --type Q8_0 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
port=$(free_port)
# Two slots and a small context keep it quick; the loop guard stays on so random text ends early. The GGUF is
# also served by name (a request can only name models, never the file).
LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --slots 2 --ctx 2048 --threads 2 \
  --model "served-file=$dir/m.gguf" >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1

node "$here/clients.mjs" --base "http://127.0.0.1:$port" --gguf "$dir/m.gguf" --served served-file \
  --modules "$modules" --pid "$pid" --locus "$locus"
rc=$?
# The suite's last check stops the server with SIGTERM: it must exit 0.
if wait "$pid"; then echo "ok   server exited 0 after SIGTERM"; else echo "FAIL server exit code after SIGTERM"; rc=1; fi
pid=
if [ $rc -ne 0 ]; then echo "--- server log (last 30 lines)"; tail -n 30 "$dir/log"; fi
exit $rc
