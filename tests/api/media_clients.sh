#!/usr/bin/env bash
# Images, audio and video through `locus serve` with the real npm clients (ollama, openai) on loopback: a tiny
# random model with its projector beside it (picked up automatically), a text-only model, and media files written
# by locus-mkmedia (media_clients.mjs says what is checked). Skips (exit 77) without node or the packages.
# usage: media_clients.sh LOCUS LOCUS_MKMODEL LOCUS_MKMEDIA NODE_MODULES
set -u
locus=$1 mkmodel=$2 mkmedia=$3 modules=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "node not found: skipped"; exit 77; }
for p in ollama openai; do
  [ -d "$modules/$p" ] || { echo "$modules/$p missing (tools/README): skipped"; exit 77; }
done
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

mkdir -p "$dir/vision" "$dir/text" "$dir/media"
"$mkmodel" --preset tiny --type Q8_0 -q -o "$dir/vision/tiny.gguf" --mmproj "$dir/vision/mmproj-tiny.gguf" \
  || { echo "mkmodel failed"; exit 1; }
cp "$dir/vision/tiny.gguf" "$dir/text/tiny.gguf"
m=$dir/media
"$mkmedia" --kind image --format png --width 300 --height 200 --seed 1 -o "$m/a.png" &&
  "$mkmedia" --kind image --format jpeg --width 1024 --height 768 --seed 2 -o "$m/b.jpg" &&
  "$mkmedia" --kind audio --format wav --seconds 2 --rate 44100 --channels 2 -o "$m/c.wav" &&
  "$mkmedia" --kind audio --format mp3 --seconds 1.5 --rate 48000 --channels 1 -o "$m/d.mp3" &&
  "$mkmedia" --kind video --format mp4 --seconds 2 --fps 10 --width 160 --height 120 --with-audio -o "$m/e.mp4" ||
  { echo "mkmedia failed"; exit 1; }

port=$(free_port)
LOCUS_MODELS="$dir/store" "$locus" serve --host "127.0.0.1:$port" --slots 2 --ctx 8192 --threads 2 \
  --model "tiny=$dir/vision/tiny.gguf" --model "textonly=$dir/text/tiny.gguf" >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1
node "$here/media_clients.mjs" "http://127.0.0.1:$port" "$modules" "$m"
rc=$?
if grep -q "mmproj-tiny.gguf" "$dir/log"; then echo "ok   the server said it picked up the projector beside the model";
else echo "FAIL the server log does not name the projector it picked up"; rc=1; fi
[ $rc -ne 0 ] && echo "--- server log (last 30 lines)" && tail -n 30 "$dir/log"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=

# The server's defaults for images: --image-size-rule llama.cpp --image-tokens 336 sizes the 1024x768 JPEG to
# 1008x768 (21x16 = 336 rows, letterboxed), which a request then gets without asking; a budget off the rule's
# range stops the server at start.
if "$locus" serve --host "127.0.0.1:$(free_port)" --model "tiny=$dir/vision/tiny.gguf" --image-tokens 300 \
    >/dev/null 2>"$dir/bad.err"; then
  echo "FAIL serve --image-tokens 300 (google rule) started"; rc=1
else
  grep -q "image-tokens" "$dir/bad.err" && echo "ok   serve --image-tokens 300 refused: $(cat "$dir/bad.err")" ||
    { echo "FAIL serve --image-tokens 300: $(cat "$dir/bad.err")"; rc=1; }
fi
port=$(free_port)
"$locus" serve --host "127.0.0.1:$port" --slots 1 --ctx 4096 --threads 2 --model "tiny=$dir/vision/tiny.gguf" \
  --image-size-rule llama.cpp --image-tokens 336 >"$dir/out2" 2>"$dir/log2" &
pid=$!
wait_for_server "$port" || exit 1
ask() {  # CONTENT_JSON -> prompt_tokens (the body goes through a file: a data URI is longer than one argument may be)
  printf '{"model":"tiny","max_tokens":1,"messages":[{"role":"user","content":%s}]}' "$1" >"$dir/body.json"
  curl -s "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' --data-binary @"$dir/body.json" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])'
}
uri="data:image/jpeg;base64,$(base64 -w0 "$m/b.jpg")"
t=$(ask '[{"type":"text","text":"Describe."}]')
printf '[{"type":"image_url","image_url":{"url":"%s"}},{"type":"text","text":"Describe."}]' "$uri" >"$dir/content.json"
i=$(ask "$(cat "$dir/content.json")")
if [ -n "$t" ] && [ -n "$i" ] && [ "$((i - t))" = 338 ]; then
  echo "ok   serve --image-size-rule llama.cpp --image-tokens 336: the image is 336 rows + 2 markers"
else
  echo "FAIL server defaults: text $t, with the image $i (expected +338)"; rc=1
fi
exit $rc
