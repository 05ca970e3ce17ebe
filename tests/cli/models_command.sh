#!/usr/bin/env bash
# The model commands without a server (LOCUS_HOST points at a closed loopback port, so they work on the store
# in a temporary LOCUS_MODELS): create from a Modelfile (a relative FROM, parameters, a multi-line SYSTEM), with
# --quantize, and FROM an existing model; list, show (default, --modelfile, --parameters), cp, rm; ps and stop
# saying no server runs; and one-line errors with exit code 1. Then create through a running server whose body
# limit is below the GGUF's size (the file goes up with POST /api/blobs).
# usage: models_command.sh LOCUS LOCUS_MKMODEL
set -u
locus=$(realpath "$1") mkmodel=$(realpath "$2")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export LOCUS_MODELS="$dir/store" OLLAMA_MODELS="$dir/no-ollama" HOME="$dir"
# A port nothing listens on: connecting is refused at once.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 9)
export LOCUS_HOST="127.0.0.1:$port"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
# name, then the command; passes when it exits 0.
run() {
  local name=$1
  shift
  if "$@" >"$dir/out" 2>"$dir/err"; then ok "$name"; else bad "$name: exit $?: $(cat "$dir/err")"; fi
}
# name, wanted text on stderr, then the command; passes when it exits 1 with one error line naming the
# problem (progress lines may come before it).
fails() {
  local name=$1 want=$2
  shift 2
  "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  if [ $rc -ne 1 ]; then bad "$name: exit $rc, want 1: $(cat "$dir/err")"
  elif ! grep -qF -- "$want" "$dir/err"; then bad "$name: stderr lacks '$want': $(cat "$dir/err")"
  elif [ "$(grep -c '^locus: ' "$dir/err")" -ne 1 ] || ! tail -1 "$dir/err" | grep -qF -- "$want"; then
    bad "$name: not one last 'locus: ' line: $(cat "$dir/err")"
  else ok "$name"; fi
}
has() {  # name, wanted text in the last output
  if grep -qF -- "$2" "$dir/out"; then ok "$1"; else bad "$1: output lacks '$2': $(cat "$dir/out")"; fi
}

mkdir -p "$dir/src"
"$mkmodel" --preset tiny --type F16 --layers 1 -q -o "$dir/src/m.gguf" || { echo "mkmodel failed"; exit 1; }
cat >"$dir/src/Modelfile" <<'EOF'
# a tiny model
FROM ./m.gguf
PARAMETER temperature 1
parameter top_k 64
PARAMETER stop "<turn|>"
SYSTEM """You are
brief."""
LICENSE MIT
EOF

run "create from a Modelfile" "$locus" create tiny:f16 -f "$dir/src/Modelfile"
grep -q '^success$' "$dir/err" && ok "create reports success" || bad "create reports success: $(cat "$dir/err")"
run "create --quantize q8_0" "$locus" create tiny:q8 -f "$dir/src/Modelfile" --quantize q8_0
run "create --quantize Q4_K_M" "$locus" create tiny:q4 -f "$dir/src/Modelfile" --quantize Q4_K_M
printf 'FROM tiny:f16\nPARAMETER top_k 20\n' >"$dir/Derived"
run "create FROM a model" "$locus" create derived -f "$dir/Derived"

# A model and its projector on two FROM lines (as Ollama documents it; `ollama create` 0.32 hangs on it, so each
# create runs under a timeout): the projector becomes a layer of its own right after the model, in either order
# of the lines, and `show` has a Projector section and vision/audio capabilities.
"$mkmodel" --preset tiny -q --mmproj "$dir/src/mmproj-m.gguf" || { echo "mkmodel --mmproj failed"; exit 1; }
"$mkmodel" --preset mid -q --mmproj "$dir/src/mmproj-mid.gguf" || { echo "mkmodel --mmproj failed"; exit 1; }
pdigest=$(sha256sum "$dir/src/mmproj-m.gguf" | cut -c1-64)
layers_of() {  # model name: its manifest's layer media types, one line
  python3 -c 'import json,sys; print(" ".join(l["mediaType"].rsplit(".",1)[1] + ":" + l["digest"][7:19] for l in json.load(open(sys.argv[1]))["layers"]))' \
    "$dir/store/manifests/registry.ollama.ai/library/$1/latest"
}
printf 'FROM ./m.gguf\nFROM ./mmproj-m.gguf\nSYSTEM sees\n' >"$dir/src/Vision"
run "create with a second FROM naming the projector" timeout 60 "$locus" create vision -f "$dir/src/Vision"
mdigest=$(sha256sum "$dir/src/m.gguf" | cut -c1-64)
[ "$(layers_of vision)" = "model:${mdigest:0:12} projector:${pdigest:0:12} system:$(printf sees | sha256sum | cut -c1-12)" ] \
  && ok "the projector is its own layer after the model" || bad "projector layer: $(layers_of vision)"
printf 'FROM ./mmproj-m.gguf\nFROM tiny:f16\n' >"$dir/src/Vision2"
run "create FROM a projector and a store model" timeout 60 "$locus" create vision2 -f "$dir/src/Vision2"
layers_of vision2 | grep -q "^model:${mdigest:0:12} projector:${pdigest:0:12} " && ok "store model plus projector" \
  || bad "store model plus projector: $(layers_of vision2)"
run "show a model with a projector" "$locus" show vision
has "show Capabilities vision" "    vision"
has "show Capabilities audio" "    audio"
has "show Projector section" "  Projector"
has "show projector architecture" "architecture        clip"
has "show projector dimensions" "dimensions          256"
run "show --modelfile names the projector" "$locus" show vision --modelfile
has "modelfile second FROM" "FROM $dir/store/blobs/sha256-$pdigest"
cp "$dir/out" "$dir/src/Again"
run "create from what show --modelfile printed" timeout 60 "$locus" create again -f "$dir/src/Again"
[ "$(layers_of again)" = "$(layers_of vision)" ] && ok "the printed Modelfile recreates the layers" \
  || bad "recreated layers: $(layers_of again) vs $(layers_of vision)"
run "show a model without a projector" "$locus" show tiny:f16
if grep -q "Projector\|vision" "$dir/out"; then bad "no projector, no Projector section: $(cat "$dir/out")"
else ok "no projector, no Projector section"; fi
run "show a GGUF path finds the mmproj beside it" "$locus" show "$dir/src/m.gguf"
has "the one of its width" "dimensions          256"
printf 'FROM ./mmproj-m.gguf\n' >"$dir/src/BadP1"
fails "a projector alone" "Modelfile line 1: FROM $dir/src/mmproj-m.gguf is a projector (mmproj) GGUF, not a model" \
  timeout 60 "$locus" create x -f "$dir/src/BadP1"
printf 'FROM ./m.gguf\nFROM tiny:f16\n' >"$dir/src/BadP2"
fails "two models" "Modelfile line 2: a second model (line 1 names one)" timeout 60 "$locus" create x -f "$dir/src/BadP2"
printf 'FROM ./m.gguf\nFROM ./mmproj-mid.gguf\n' >"$dir/src/BadP3"
fails "a projector of another width" "projects to width 1024, the model's embedding length is 256" \
  timeout 60 "$locus" create x -f "$dir/src/BadP3"
printf 'FROM ./m.gguf\nFROM ./mmproj-m.gguf\nFROM ./mmproj-m.gguf\n' >"$dir/src/BadP4"
fails "a third FROM" "Modelfile line 3: a third FROM" timeout 60 "$locus" create x -f "$dir/src/BadP4"

run "list" "$locus" list
has "list header" "NAME"
has "list shows the model" "tiny:f16"
has "list shows derived" "derived:latest"
head -1 "$dir/out" | grep -qE '^NAME +ID +SIZE +MODIFIED$' && ok "list columns" || bad "list columns: $(head -1 "$dir/out")"

run "show" "$locus" show tiny:q4
has "show architecture" "architecture        gemma4"
has "show quantization" "quantization        Q4_K_M"
has "show context length" "context length"
has "show parameters" "temperature         1"
run "show q8" "$locus" show tiny:q8
has "show q8 quantization" "quantization        Q8_0"
run "show --parameters" "$locus" show derived --parameters
has "parameters merged" 'top_k                          20'
has "parameters inherited" 'stop                           "<turn|>"'
run "show --modelfile" "$locus" show tiny:f16 --modelfile
has "modelfile FROM" "FROM $dir/store/blobs/sha256-"
has "modelfile parameter" 'PARAMETER stop "<turn|>"'
has "modelfile system" 'SYSTEM """You are'
run "show --system" "$locus" show tiny:f16 --system
has "system text" "brief."
run "show --license" "$locus" show tiny:f16 --license
has "license text" "MIT"

run "cp" "$locus" cp tiny:q8 copy:1
has "cp says so" "copied 'tiny:q8' to 'copy:1'"
run "rm" "$locus" rm copy:1 tiny:q8
has "rm says so" "deleted 'tiny:q8'"
"$locus" list >"$dir/out" 2>&1
if grep -q "copy:1\|tiny:q8" "$dir/out"; then bad "rm removed them: $(cat "$dir/out")"; else ok "rm removed them"; fi

run "ps without a server" "$locus" ps
grep -q "no locus server is running" "$dir/err" && ok "ps says no server" || bad "ps says no server: $(cat "$dir/err")"
fails "stop without a server" "no locus server is running" "$locus" stop tiny:f16

printf 'FROM ./m.gguf\nPARAMETER warmth 3\n' >"$dir/src/Bad1"
fails "unknown parameter" 'Modelfile line 2: unknown parameter "warmth"' "$locus" create x -f "$dir/src/Bad1"
printf 'FROM ./m.gguf\n\nADAPTER ./lora.gguf\n' >"$dir/src/Bad2"
fails "ADAPTER refused" "Modelfile line 3: ADAPTER is not supported" "$locus" create x -f "$dir/src/Bad2"
printf 'FROM ./missing.gguf\n' >"$dir/src/Bad3"
fails "missing FROM file" "Modelfile line 1: FROM" "$locus" create x -f "$dir/src/Bad3"
printf 'FROM tiny:q4\n' >"$dir/src/Bad4"
fails "quantize a quantized model" "already quantized" "$locus" create x -f "$dir/src/Bad4" --quantize q4_0
fails "unknown quantize type" "unsupported quantization type" "$locus" create x -f "$dir/src/Modelfile" --quantize q9_9
fails "show a missing model" "not found" "$locus" show nosuch
fails "rm a missing model" "not found" "$locus" rm nosuch
fails "cp a missing model" "not found" "$locus" cp nosuch other
fails "bad name" "nosuch!" "$locus" show 'nosuch!'
fails "no Modelfile" "no Modelfile" sh -c "cd '$dir' && '$locus' create x"

# Through a running server (its own store, a request body limit far below the GGUF's size): create uploads the
# GGUF with POST /api/blobs (not capped by the limit), then creates from it with /api/create "files".
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
limit=65536
[ "$(stat -c %s "$dir/src/m.gguf")" -gt $limit ] && ok "the GGUF is over the server's body limit" \
  || bad "the GGUF is over the server's body limit: $(stat -c %s "$dir/src/m.gguf") bytes"
LOCUS_MODELS="$dir/served" LOCUS_MAX_REQUEST_BYTES=$limit "$locus" serve --host "127.0.0.1:$sport" \
  >"$dir/serve.out" 2>"$dir/serve.log" &
spid=$!
stop_served() { [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null; spid=; }
trap 'stop_served; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  LOCUS_HOST="127.0.0.1:$sport" "$locus" ps >/dev/null 2>&1 && grep -q '/api/ps' "$dir/serve.log" && break
  sleep 0.1
done
served() { LOCUS_HOST="127.0.0.1:$sport" "$@"; }
run "create through the server" served "$locus" create big:1 -f "$dir/src/Modelfile"
grep -q '^success$' "$dir/err" && ok "server create reports success" || bad "server create reports success: $(cat "$dir/err")"
grep -q '"method":"POST","path":"/api/blobs/sha256:[0-9a-f]*","status":201' "$dir/serve.log" \
  && ok "the GGUF went up as a blob" || bad "the GGUF went up as a blob: $(grep blobs "$dir/serve.log")"
digest=$(sha256sum "$dir/src/m.gguf" | cut -c1-64)
[ -f "$dir/served/blobs/sha256-$digest" ] && ok "the blob is in the server's store" \
  || bad "the blob is in the server's store: $(ls "$dir/served/blobs" 2>&1)"
run "show through the server" served "$locus" show big:1 --parameters
grep -qE '^top_k +64$' "$dir/out" && ok "server model parameters" || bad "server model parameters: $(cat "$dir/out")"
run "second create reuses the blob" served "$locus" create big:2 -f "$dir/src/Modelfile"
if grep -q "copying file" "$dir/err"; then bad "second create skips the upload: $(cat "$dir/err")"
else ok "second create skips the upload"; fi
[ "$(grep -c '"path":"/api/blobs/sha256:[0-9a-f]*","status":201' "$dir/serve.log")" -eq 1 ] \
  && ok "uploaded once" || bad "uploaded once: $(grep blobs "$dir/serve.log")"
run "create --quantize through the server" served "$locus" create big:q8 -f "$dir/src/Modelfile" --quantize q8_0
run "show the quantized model" served "$locus" show big:q8
has "server quantization" "quantization        Q8_0"
# Two FROM lines through the server: both files go up as blobs, the server tells them apart.
run "create with a projector through the server" served timeout 60 "$locus" create sv -f "$dir/src/Vision"
[ -f "$dir/served/blobs/sha256-$pdigest" ] && ok "the projector went up as a blob" \
  || bad "the projector went up as a blob: $(ls "$dir/served/blobs")"
run "show it through the server" served "$locus" show sv
has "server Projector section" "  Projector"
has "server capabilities" "    vision"
printf 'FROM big:1\nFROM ./mmproj-m.gguf\n' >"$dir/src/Vision3"
run "create FROM a model and a projector through the server" served timeout 60 "$locus" create sv2 -f "$dir/src/Vision3"
run "show that one through the server" served "$locus" show sv2
has "server Projector from FROM model" "  Projector"
fails "a projector of another width through the server" "projects to width 1024" \
  served timeout 60 "$locus" create x -f "$dir/src/BadP3"
# The server never opens a path a request names; `locus show PATH` reads the file on this machine instead.
shows=$(grep -c '"path":"/api/show"' "$dir/serve.log")
run "show a GGUF path while a server runs" served "$locus" show "$dir/src/m.gguf"
has "show of the file" "architecture        gemma4"
[ "$(grep -c '"path":"/api/show"' "$dir/serve.log")" = "$shows" ] && ok "show PATH stays local" \
  || bad "show PATH went to the server: $(grep /api/show "$dir/serve.log" | tail -n 1)"
printf 'FROM nosuch:model\n' >"$dir/src/Bad5"
fails "server error in one line" 'nosuch' served "$locus" create x -f "$dir/src/Bad5"
stop_served

for cmd in list show ps cp rm stop create; do
  if "$locus" "$cmd" --help >"$dir/out" 2>&1 && grep -q "Usage" "$dir/out"; then ok "$cmd --help"
  else bad "$cmd --help: $(cat "$dir/out")"; fi
done
exit $fail
