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
exit $rc
