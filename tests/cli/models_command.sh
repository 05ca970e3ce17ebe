#!/usr/bin/env bash
# The model commands without a server (LOCUS_HOST points at a closed loopback port, so they work on the store
# in a temporary LOCUS_MODELS): create from a Modelfile (a relative FROM, parameters, a multi-line SYSTEM), with
# --quantize, and FROM an existing model; list, show (default, --modelfile, --parameters), cp, rm; ps and stop
# saying no server runs; and one-line errors with exit code 1.
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

for cmd in list show ps cp rm stop create; do
  if "$locus" "$cmd" --help >"$dir/out" 2>&1 && grep -q "Usage" "$dir/out"; then ok "$cmd --help"
  else bad "$cmd --help: $(cat "$dir/out")"; fi
done
exit $fail
