#!/usr/bin/env bash
# `locus bench` as a command on a tiny random model: the pp/tg JSON keeps its shape; the media test (--mmproj with
# --image/--audio) reports one set of timings per repetition whose parts fit inside the time to first token, the
# token counts of each medium under both size rules, a projector that runs again every repetition (no cached rows),
# and one-line errors for what it cannot run.
# usage: bench_command.sh LOCUS LOCUS_MKMODEL LOCUS_MKMEDIA
set -u
locus=$1 mkmodel=$2 mkmedia=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
"$mkmodel" --preset tiny --type Q8_0 --layers 2 -q -o "$dir/m.gguf" --mmproj "$dir/p.gguf" || { echo "mkmodel failed"; exit 1; }
"$mkmedia" --kind image --format jpeg --width 960 --height 672 --seed 1 -o "$dir/a.jpg" >/dev/null &&
  "$mkmedia" --kind image --format png --width 300 --height 200 --seed 2 -o "$dir/b.png" >/dev/null &&
  "$mkmedia" --kind audio --format wav --seconds 2 --rate 44100 --channels 2 -o "$dir/c.wav" >/dev/null &&
  "$mkmedia" --kind audio --format wav --seconds 30 --rate 16000 --channels 1 -o "$dir/d.wav" >/dev/null ||
  { echo "mkmedia failed"; exit 1; }

# pp and tg as before.
if ! "$locus" bench "$dir/m.gguf" -t 2 -p 16 -n 4 -r 2 --json >"$dir/out" 2>"$dir/err"; then
  echo "FAIL bench -p 16 -n 4: $(cat "$dir/err")"; fail=1
elif ! node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (j.pp.n !== 16 || j.tg.n !== 4 || j.pp.runs.length !== 2 || j.tg.runs.length !== 2) throw new Error("shape");
    if (!(j.pp.tokens_per_s > 0 && j.tg.tokens_per_s > 0)) throw new Error("rates")' "$dir/out" 2>"$dir/why"; then
  echo "FAIL bench pp/tg JSON: $(head -c 300 "$dir/why") in $(head -c 300 "$dir/out")"; fail=1
else echo "ok   bench pp/tg JSON"; fi

# media_check NAME REPS EXPECTED_TOKENS TEXT_TOKENS args...: runs the media test and checks its JSON. EXPECTED_TOKENS:
# a comma list, one per medium, or - (not checked); TEXT_TOKENS: the prompt's tokens outside the media, or -. Sets
# textcount to the latter as found.
media_check() {
  local name=$1 reps=$2 want=$3 text=$4
  shift 4
  if ! "$locus" bench "$dir/m.gguf" --mmproj "$dir/p.gguf" -t 2 -r "$reps" --json "$@" >"$dir/out" 2>"$dir/err"; then
    echo "FAIL $name: exit $?: $(cat "$dir/err")"; fail=1; return
  fi
  if node -e '
    const [file, reps, want, text] = process.argv.slice(1);
    const j = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const fail = m => { console.error(m); process.exit(1); };
    if (j.mode !== "media") fail("mode " + j.mode);
    const got = j.media.map(m => m.tokens).join(",");
    if (want !== "-" && got !== want) fail(`media tokens ${got}, want ${want}`);
    for (const m of j.media) {
      if (m.kind === "image" && (m.width % 48 || m.height % 48 || m.tokens !== (m.width / 48) * (m.height / 48))) fail("image size");
      if (m.kind === "audio" && m.tokens !== Math.ceil(m.seconds * 16000 / 640 - 1e-9)) fail("audio tokens");
    }
    if (j.media_tokens !== j.media.reduce((a, m) => a + m.tokens, 0)) fail("media_tokens");
    if (!(j.prompt_tokens > j.media_tokens)) fail("prompt_tokens");
    if (text !== "-" && j.prompt_tokens - j.media_tokens !== +text) fail(`text tokens ${j.prompt_tokens - j.media_tokens}, want ${text}`);
    const r = j.runs_ms;
    for (const k of Object.keys(r)) if (r[k].length !== +reps || r[k].some(x => !(x >= 0 && isFinite(x)))) fail("runs " + k);
    for (let i = 0; i < +reps; i++) {
      // The projector runs every time (a cached image would take microseconds; 280 rows take milliseconds).
      if (j.media.some(m => m.kind === "image" && m.tokens >= 280) && !(r.projector[i] > 0.5)) fail(`run ${i}: projector ${r.projector[i]} ms`);
      if (!(r.projector[i] > 0 && r.prefill[i] > 0 && r.media_prefill[i] > 0 && r.text_prefill[i] > 0)) fail(`run ${i}: zero part`);
      if (r.decode[i] + r.projector[i] + r.prefill[i] > r.ttft[i]) fail(`run ${i}: parts exceed the time to first token`);
      if (r.media_prefill[i] > r.prefill[i] || r.text_prefill[i] > r.text_ttft[i]) fail(`run ${i}: prefill`);
    }
    const med = a => { const s = [...a].sort((x, y) => x - y), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
    for (const k of Object.keys(r)) if (Math.abs(j.median_ms[k] - med(r[k])) > 1e-6) fail("median " + k);
    const rate = j.prefill_tokens_per_s;
    if (Math.abs(rate.media_prompt - j.prompt_tokens / (j.median_ms.prefill / 1e3)) > 1e-6 * rate.media_prompt) fail("rate");
    console.error(j.prompt_tokens - j.media_tokens);
  ' "$dir/out" "$reps" "$want" "$text" 2>"$dir/why"; then
    echo "ok   $name: tokens $want, text $(cat "$dir/why")"
    textcount=$(cat "$dir/why")
  else
    echo "FAIL $name: $(head -c 300 "$dir/why") in $(head -c 400 "$dir/out")"; fail=1
  fi
}

# Google's rule on a 960x672 picture: f = sqrt(budget / 280) times each side, floored to 48 (gemma4.md 8.2).
textcount=-
media_check "google 280, 3 repetitions" 3 280 - --image "$dir/a.jpg"
image_text=$textcount
media_check "google 70" 1 70 "$image_text" --image "$dir/a.jpg" --image-tokens 70
media_check "google 140" 1 126 "$image_text" --image "$dir/a.jpg" --image-tokens 140
media_check "google 560" 1 532 "$image_text" --image "$dir/a.jpg" --image-tokens 560
media_check "llama.cpp rule, 280" 1 280 "$image_text" --image "$dir/a.jpg" --image-size-rule llama.cpp --image-tokens 280
media_check "llama.cpp rule, small png (scaled up to 70 tokens or more)" 2 - "$image_text" --image "$dir/b.png" --image-size-rule llama.cpp
media_check "audio 2 s" 2 50 - --audio "$dir/c.wav"
audio_text=$textcount
media_check "audio 30 s" 1 750 "$audio_text" --audio "$dir/d.wav"
media_check "image and audio" 2 280,750 - --image "$dir/a.jpg" --audio "$dir/d.wav" --image-size-rule llama.cpp --image-tokens 280

# The table form.
if "$locus" bench "$dir/m.gguf" --mmproj "$dir/p.gguf" -t 2 -r 1 --image "$dir/a.jpg" >"$dir/out" 2>"$dir/err" &&
   grep -q "time to first token" "$dir/out" && grep -q "^prefill: .* tokens/s with the media" "$dir/out" &&
   grep -q "image 960x672 = 280 tokens" "$dir/out"; then echo "ok   media table"
else echo "FAIL media table: $(cat "$dir/out" "$dir/err")"; fail=1; fi

# Errors: one line, before the model is loaded where the arguments alone show it.
expect_error() {  # name want_rc regex args...
  local name=$1 want=$2 re=$3
  shift 3
  "$locus" bench "$dir/m.gguf" -t 2 -r 1 "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  if [ $rc -ne "$want" ]; then echo "FAIL $name: exit $rc, want $want: $(cat "$dir/err")"; fail=1
  elif [ "$(wc -l <"$dir/err")" -ne 1 ] || ! grep -qE "$re" "$dir/err"; then echo "FAIL $name: $(cat "$dir/err")"; fail=1
  else echo "ok   $name: $(cat "$dir/err")"; fi
}
expect_error "--image without --mmproj" 2 "needs both --mmproj" --image "$dir/a.jpg"
expect_error "--mmproj without media" 2 "needs both --mmproj" --mmproj "$dir/p.gguf"
expect_error "media with --sampled" 2 "no --sampled" --mmproj "$dir/p.gguf" --image "$dir/a.jpg" --sampled
expect_error "missing file" 1 "cannot read .*nope.jpg" --mmproj "$dir/p.gguf" --image "$dir/nope.jpg"
expect_error "not media" 1 "m.gguf: " --mmproj "$dir/p.gguf" --image "$dir/m.gguf"
expect_error "google budget off the ladder" 1 "99" --mmproj "$dir/p.gguf" --image "$dir/a.jpg" --image-tokens 99
expect_error "a text model as the projector" 1 "." --mmproj "$dir/m.gguf" --image "$dir/a.jpg"
if "$locus" bench "$dir/m.gguf" --mmproj "$dir/p.gguf" --image "$dir/a.jpg" --image-size-rule square >/dev/null 2>&1; then
  echo "FAIL --image-size-rule square accepted"; fail=1
else echo "ok   --image-size-rule square refused"; fi
exit $fail
