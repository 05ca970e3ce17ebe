#!/usr/bin/env bash
# Time to first token of prompts holding media, locus against llama.cpp's llama-mtmd-cli on the same GGUF and
# projector with the same threads, measured in one run (issue 13's speed target). Three prompts, each one medium
# followed by a short text: an image at 280 tokens and at 1120 (a 2880x2016 JPEG that both sides size with
# llama.cpp's rule and the same budget, so their token counts match; both are printed), and 30 s of audio
# (750 tokens). Prints medians over the repetitions and the ratios.
#
#   bench/media.sh [-t THREADS] [-r REPS] [-c CTX] [-s CASES] [-k] MODEL.gguf MMPROJ.gguf
#     -s  a comma list of image280, image1120, audio30 (default: all three)
#     -k  keep the logs and JSON (their folder is printed)
#
# What each side's time to first token covers; model load and warm-up are excluded on both:
#   locus      `locus bench --mmproj P --image|--audio F -r 1 --json` (src/cli/bench.cpp): from just before the
#              file is read to the first token drawn: read, decode, resize, prompt render and tokenization,
#              projector, prefill of media rows and text, sampling. The projector's cache is off.
#   llama.cpp  `llama-mtmd-cli -n 0` with timestamped logs: from its first line after the model, projector and
#              warm-up are loaded (printed just before it reads the file) to its timing report, printed once the
#              prompt's logits are computed: the same steps but drawing the token (a few milliseconds of sampling
#              that only locus's figure holds; with -n 1 the report would also hold the decode of the token drawn,
#              which its counters do not give). Its parts come from its own log lines: the projector ("mtmd batch
#              encoding done in"), the media rows' decode ("image|audio decoded ... in": wall time around
#              llama_decode); the rest is its text, file read, decode, resize and tokenization. Its prompt is its
#              chat template's default (a system turn asking for thinking): 3 tokens more than locus's.
# The two programs alternate, one repetition each at a time, so drift on a shared machine hits both alike; each is
# a fresh process (its first media prompt, as a user's first request). llama.cpp needs a micro-batch as large as
# the image (non-causal attention), so it gets -b 2048 -ub 2048; locus evaluates an image as one block anyway.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
threads=2 reps=3 ctx=2048 keep=0 sel=image280,image1120,audio30
while getopts "t:r:c:s:kh" o; do
  case $o in
    t) threads=$OPTARG ;; r) reps=$OPTARG ;; c) ctx=$OPTARG ;; s) sel=$OPTARG ;; k) keep=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
model=$1 mmproj=$2
bin=${LOCUS_BUILD_DIR:-$root/build}/bin
locus=$bin/locus mkmedia=$bin/locus-mkmedia
for b in "$locus" "$mkmedia"; do [ -x "$b" ] || { echo "media.sh: $b not built (ninja -C build locus locus-mkmedia)" >&2; exit 1; }; done
llama_bin=$("$root/bench/llama_tools.sh" llama-mtmd-cli)
out=$(mktemp -d)
if [ $keep = 1 ]; then echo "logs in $out" >&2; else trap 'rm -rf "$out"' EXIT; fi

"$mkmedia" --kind image --format jpeg --width 2880 --height 2016 --seed 1 -o "$out/photo.jpg" >/dev/null
"$mkmedia" --kind audio --format wav --seconds 30 --rate 16000 --channels 1 -o "$out/speech.wav" >/dev/null
prompt="Describe this."
IFS=, read -r -a cases <<<"$sel"
for c in "${cases[@]}"; do
  case $c in image280 | image1120 | audio30) ;; *) echo "media.sh: unknown case '$c'" >&2; usage ;; esac
done
locus_args() {
  case $1 in
    image280) echo "--image $out/photo.jpg --image-size-rule llama.cpp --image-tokens 280" ;;
    image1120) echo "--image $out/photo.jpg --image-size-rule llama.cpp --image-tokens 1120" ;;
    audio30) echo "--audio $out/speech.wav" ;;
  esac
}
llama_args() {
  case $1 in
    image280) echo "--image $out/photo.jpg --image-min-tokens 70 --image-max-tokens 280" ;;
    image1120) echo "--image $out/photo.jpg --image-min-tokens 70 --image-max-tokens 1120" ;;
    audio30) echo "--audio $out/speech.wav" ;;
  esac
}
echo "locus:     $locus bench MODEL --mmproj MMPROJ -t $threads -c $ctx -r 1 --json --prompt '$prompt' MEDIA" >&2
echo "llama.cpp: $llama_bin/llama-mtmd-cli -m MODEL --mmproj MMPROJ -t $threads -c $ctx -b 2048 -ub 2048 -n 0" \
  "--jinja -lv 4 -p '$prompt' --log-prefix --log-timestamps MEDIA" >&2
# The share of time some task waited for a core (Linux PSI), to tell a quiet run from a contended one.
cpu_wait() { sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null || true; }
psi0=$(cpu_wait) t0=$(date +%s%N)
for c in "${cases[@]}"; do
  for ((i = 0; i < reps; i++)); do
    echo "$c: repetition $((i + 1)) of $reps" >&2
    # shellcheck disable=SC2046
    "$llama_bin/llama-mtmd-cli" -m "$model" --mmproj "$mmproj" -t "$threads" -c "$ctx" -b 2048 -ub 2048 -n 0 \
      --jinja -lv 4 -p "$prompt" --log-prefix --log-timestamps $(llama_args "$c") >"$out/llama.$c.$i.log" 2>&1 ||
      { echo "media.sh: llama-mtmd-cli failed ($out/llama.$c.$i.log):" >&2; tail -5 "$out/llama.$c.$i.log" >&2; exit 1; }
    # shellcheck disable=SC2046
    "$locus" bench "$model" --mmproj "$mmproj" -t "$threads" -c "$ctx" -r 1 --json --prompt "$prompt" \
      $(locus_args "$c") >"$out/locus.$c.$i.json"
  done
done

psi1=$(cpu_wait) t1=$(date +%s%N)
wait_share=-1
if [ -n "$psi0" ] && [ -n "$psi1" ]; then wait_share=$(( (psi1 - psi0) * 1000 * 100 / (t1 - t0) )); fi

node - "$out" "$reps" "$(basename "$model")" "$threads" "$wait_share" "${cases[@]}" <<'JS'
const fs = require('fs');
const [dir, reps, name, threads, wait_share, ...cases] = process.argv.slice(2);
const med = a => { const s = [...a].sort((x, y) => x - y), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const sum = (text, re) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[m.length - 1]), 0);
// llama-mtmd-cli's log with --log-prefix --log-timestamps: "M.SS.mmm.uuu L message" (minutes, seconds, ms, us).
function llama(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
  const stamp = re => {
    for (const line of text.split('\n')) {
      const m = line.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+) /);
      if (m && re.test(line)) return m[1] * 60000 + m[2] * 1000 + Number(m[3]) + m[4] / 1000;
    }
    throw new Error(`${file}: no line matching ${re}`);
  };
  const start = stamp(/This is an experimental CLI/), end = stamp(/llama_perf_context_print: +load time/);
  const ttft = end - start;
  const encode = sum(text, /mtmd batch encoding done in (\d+) ms/g) + sum(text, /(image|audio) slice encoded in (\d+) ms/g);
  const media_prefill = sum(text, /(image|audio) decoded \(batch \d+\/\d+\) in (\d+) ms/g);
  return { ttft, encode, media_prefill, rest: ttft - encode - media_prefill,
           media_tokens: sum(text, /decoding (image|audio) batch \d+\/\d+, n_tokens_batch = (\d+)/g) };
}
const f = (x, d = 1) => x.toFixed(d);
const rows = [];
for (const c of cases) {
  const L = [], G = [];
  for (let i = 0; i < +reps; i++) {
    L.push(JSON.parse(fs.readFileSync(`${dir}/locus.${c}.${i}.json`)));
    G.push(llama(`${dir}/llama.${c}.${i}.log`));
  }
  const lm = k => med(L.map(j => j.median_ms[k])), gm = k => med(G.map(g => g[k]));
  const l = { ttft: lm('ttft'), decode: lm('decode'), projector: lm('projector'), prefill: lm('prefill'),
              media_prefill: lm('media_prefill'), text_prefill: lm('text_prefill'), prompt_tokens: L[0].prompt_tokens,
              media_tokens: L[0].media_tokens };
  const g = { ttft: gm('ttft'), encode: gm('encode'), media_prefill: gm('media_prefill'), rest: gm('rest'),
              media_tokens: G[0].media_tokens };
  const range = a => `${f(Math.min(...a) / 1e3)}-${f(Math.max(...a) / 1e3)}`;
  l.range = range(L.map(j => j.median_ms.ttft));
  g.range = range(G.map(x => x.ttft));
  rows.push({ c, l, g });
}
console.log(`${name}, ${threads} threads, medians of ${reps} (one fresh process per repetition on each side)`);
if (+wait_share >= 0) {
  console.log(`CPU pressure during the run: some task waited for a core ${wait_share}% of the time (0 on an idle machine)`);
}
console.log('\n| prompt | media tokens locus / llama.cpp | locus prompt tokens | TTFT locus s (range) | TTFT llama.cpp s (range) | llama.cpp / locus |');
console.log('|---|---|---|---|---|---|');
for (const { c, l, g } of rows) {
  console.log(`| ${c} | ${l.media_tokens} / ${g.media_tokens} | ${l.prompt_tokens} | ${f(l.ttft / 1e3, 2)} (${l.range}) | ${f(g.ttft / 1e3, 2)} (${g.range}) | ${f(g.ttft / l.ttft, 2)}x |`);
}
console.log('\nlocus, the parts of its time to first token, and the prefill rate of the media prompt against a text-only');
console.log('prompt of the same length (its media rows replaced by random text tokens), in the same process:\n');
console.log('| prompt | decode ms | projector ms | prefill ms | decode + projector | media prompt t/s | text prompt t/s | media / text |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { c, l } of rows) {
  const mr = l.prompt_tokens / (l.prefill / 1e3), tr = l.prompt_tokens / (l.text_prefill / 1e3);
  console.log(`| ${c} | ${f(l.decode)} | ${f(l.projector)} | ${f(l.prefill)} | ${f(100 * (l.decode + l.projector) / l.ttft, 2)}% | ${f(mr, 2)} | ${f(tr, 2)} | ${f(mr / tr, 3)} |`);
}
console.log('\nThe media rows alone: locus (forward of the rows, projector excluded) and llama.cpp (its llama_decode of');
console.log('the rows, wall time from its log); llama.cpp\'s projector and the rest of its time (text, file read, decode,');
console.log('resize, tokenization):\n');
console.log('| prompt | locus rows t/s | llama.cpp rows t/s | ratio | llama.cpp projector ms | llama.cpp rest ms |');
console.log('|---|---|---|---|---|---|');
for (const { c, l, g } of rows) {
  const lr = l.media_tokens / (l.media_prefill / 1e3), gr = g.media_tokens / (g.media_prefill / 1e3);
  console.log(`| ${c} | ${f(lr, 2)} | ${f(gr, 2)} | ${f(lr / gr, 2)}x | ${f(g.encode)} | ${f(g.rest)} |`);
}
JS
