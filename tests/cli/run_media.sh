#!/usr/bin/env bash
# `locus run` with media on a tiny random model: --image/--audio/--video with the projector beside the model
# (picked up and said so) or given with --mmproj; token counts from --verbose; the interactive chat attaching a
# file named in the message (through a pseudo-terminal); and the refusals (no projector, a file that is no
# media, --raw with media, a bad --image-tokens), each one line and a non-zero exit, never a crash.
# usage: run_media.sh LOCUS LOCUS_MKMODEL LOCUS_MKMEDIA
set -u
locus=$1 mkmodel=$2 mkmedia=$3
. "$(dirname "${BASH_SOURCE[0]}")/../api/serve_lib.sh"
mkdir -p "$dir/v" "$dir/t"
"$mkmodel" --preset tiny --type Q8_0 -q -o "$dir/v/m.gguf" --mmproj "$dir/v/mmproj-m.gguf" || { echo "mkmodel failed"; exit 1; }
cp "$dir/v/m.gguf" "$dir/t/m.gguf"
cp "$dir/v/mmproj-m.gguf" "$dir/p.gguf"
"$mkmedia" --kind image --format png --width 640 --height 480 -o "$dir/x.png" &&
  "$mkmedia" --kind audio --format flac --seconds 4 --rate 22050 --channels 2 -o "$dir/a.flac" &&
  "$mkmedia" --kind video --format webm --seconds 2 --fps 8 --width 96 --height 96 -o "$dir/v.webm" ||
  { echo "mkmedia failed"; exit 1; }
count() { sed -n 's/^prompt eval count: *\([0-9]*\).*/\1/p' "$1"; }
run() { "$locus" run "$@" --num-predict 2 --threads 2 --verbose; }

run "$dir/t/m.gguf" "Describe" >/dev/null 2>"$dir/text.err" || bad "text prompt"
text=$(count "$dir/text.err")

# 640x480 at Google's 280 budget: 912x672 = 19x14 = 266 rows, + <|image> and <image|>.
if run "$dir/v/m.gguf" --image "$dir/x.png" "Describe" >/dev/null 2>"$dir/img.err"; then
  n=$(count "$dir/img.err")
  [ "$((n - text))" = 268 ] && ok "--image: 266 image tokens + 2 markers" || bad "--image added $((n - text)) tokens"
  grep -q "mmproj-m.gguf.*found beside the model" "$dir/img.err" && ok "the projector beside the model is said" ||
    bad "no line about the projector picked up: $(head -3 "$dir/img.err")"
else bad "--image failed: $(tail -2 "$dir/img.err")"; fi
# 4 s of audio = 100 tokens; llama.cpp's rule at 1120: 640x480 -> 624x480 (sides rounded to 48) = 13x10 = 130 rows;
# each with its two markers.
if run "$dir/t/m.gguf" --mmproj "$dir/p.gguf" --audio "$dir/a.flac" --image "$dir/x.png" --image-size-rule llama.cpp \
    --image-tokens 1120 "Describe" >/dev/null 2>"$dir/both.err"; then
  n=$(count "$dir/both.err")
  exp=$((text + 100 + 2 + 130 + 2))
  [ "$n" = "$exp" ] && ok "--mmproj with --audio and --image (llama.cpp rule): $((n - text)) media tokens" ||
    bad "--audio --image gave $n tokens (text $text, expected about $exp)"
else bad "--mmproj --audio --image failed: $(tail -2 "$dir/both.err")"; fi
if run "$dir/v/m.gguf" --video "$dir/v.webm" --video-frames 4 "What happens?" >/dev/null 2>"$dir/vid.err"; then
  n=$(count "$dir/vid.err")
  # 4 frames at 70 tokens: Google's rule sizes 96x96 to 384x384 = 8x8 = 64 rows, + 2 markers and a timestamp each.
  [ "$((n - text))" -gt 264 ] && [ "$((n - text))" -lt 300 ] && ok "--video with 4 frames: $((n - text)) tokens" || bad "--video added $((n - text)) tokens"
else bad "--video failed: $(tail -2 "$dir/vid.err")"; fi

# Interactive: a path in the message is attached (as ollama run does), through a pseudo-terminal.
if command -v script >/dev/null; then
  printf 'what is in %s ?\n/bye\n' "$dir/x.png" |
    timeout 120 script -qec "$locus run $dir/v/m.gguf --num-predict 2 --threads 2 --verbose" /dev/null >"$dir/chat.out" 2>&1
  tr -d '\r' <"$dir/chat.out" | grep -q "Added image '$dir/x.png'" && ok "interactive: a named image file is attached" ||
    bad "interactive attach: $(tr -d '\r' <"$dir/chat.out" | tail -3)"
  n=$(tr -d '\r' <"$dir/chat.out" | sed -n 's/^prompt eval count: *\([0-9]*\).*/\1/p' | head -1)
  [ -n "$n" ] && [ "$n" -gt 266 ] && ok "interactive: the image's tokens are in the prompt ($n)" || bad "interactive prompt count '$n'"
else
  echo "skip interactive attach: no script(1)"
fi

# Refusals: one line on stderr, exit non-zero.
refused() {  # NAME PATTERN CMD...
  local name=$1 pat=$2; shift 2
  if "$@" >/dev/null 2>"$dir/r.err"; then bad "$name: exit 0"; return; fi
  local lines; lines=$(grep -c . "$dir/r.err")
  grep -q -- "$pat" "$dir/r.err" && [ "$lines" -le 2 ] && ok "$name: $(tail -1 "$dir/r.err")" ||
    bad "$name: $(cat "$dir/r.err")"
}
refused "no projector" "need a projector" "$locus" run "$dir/t/m.gguf" --image "$dir/x.png" "x"
printf 'not an image at all' >"$dir/bad.png"
refused "a file that is no media" "bad.png" "$locus" run "$dir/v/m.gguf" --image "$dir/bad.png" "x"
refused "a missing file" "cannot read" "$locus" run "$dir/v/m.gguf" --image "$dir/none.png" "x"
refused "--raw with media" "raw" "$locus" run "$dir/v/m.gguf" --raw --image "$dir/x.png" "x"
refused "--image-tokens off the ladder" "image-tokens" "$locus" run "$dir/v/m.gguf" --image "$dir/x.png" --image-tokens 300 "x"
refused "a bad --mmproj" "projector" "$locus" run "$dir/t/m.gguf" --mmproj "$dir/t/m.gguf" --image "$dir/x.png" "x"
exit $fail
