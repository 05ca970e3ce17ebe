#!/usr/bin/env bash
# `locus run` as a command on a tiny random model: the prompt goes through the Gemma 4 renderer (its token
# count, seen in --verbose, is that of the template's text for thinking off and on, and of the bare text
# with --raw), answers stream and exit 0 from an argument or standard input, chat markers never reach
# standard output, and --help documents the chat and memory flags.
# usage: run_command.sh LOCUS LOCUS_MKMODEL
set -u
locus=$1 mkmodel=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
"$mkmodel" --preset tiny --type Q8_0 --layers 1 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }

count() {  # tokens of a text with special tokens parsed and no BOS added
  "$locus" tokenize "$dir/m.gguf" --no-bos --parse-special "$1" | tr -cd ',' | wc -c | awk '{print $1 + 1}'
}
check_run() {  # name want_prompt_tokens args...
  local name=$1 want=$2
  shift 2
  "$locus" run "$dir/m.gguf" --num-predict 8 --seed 1 --verbose "$@" >"$dir/out" 2>"$dir/err"
  local rc=$? got
  got=$(sed -n 's/^prompt eval count: *\([0-9]*\) token.*/\1/p' "$dir/err")
  if [ $rc -ne 0 ]; then echo "FAIL $name: exit $rc: $(cat "$dir/err")"; fail=1
  elif [ "$got" != "$want" ]; then echo "FAIL $name: prompt tokens: want $want, got '$got'"; fail=1
  elif grep -qE '<\|channel>|<channel\|>|<\|tool_call>|<turn\|>|<\|turn>' "$dir/out"; then
    echo "FAIL $name: marker text in the answer: $(cat "$dir/out")"; fail=1
  else echo "ok   $name"; fi
}

off="<bos><|turn>user
Hello<turn|>
<|turn>model
<|channel>thought
<channel|>"
on="<bos><|turn>system
<|think|>
<turn|>
<|turn>user
Hello<turn|>
<|turn>model
"
check_run "chat prompt, thinking off" "$(count "$off")" "Hello"
check_run "chat prompt, thinking on" "$(count "$on")" "Hello" --think
check_run "thinking hidden" "$(count "$on")" "Hello" --think --hidethinking
check_run "raw prompt" 2 "Hello" --raw
check_run "weights in place" "$(count "$off")" "Hello" --mmap

if printf 'Hello' | "$locus" run "$dir/m.gguf" --num-predict 4 >/dev/null 2>"$dir/err"; then echo "ok   standard input"
else echo "FAIL standard input: $(cat "$dir/err")"; fail=1; fi

check_run "thinking level means on" "$(count "$on")" "Hello" --think=high
check_run "--think=false" "$(count "$off")" "Hello" --think=false

# --format: every answer parses (and validates against the schema); bad schemas are refused before loading.
# A one-layer random model falls into repeating one token inside strings, which the loop guard then ends
# (and says so): the repeat penalty keeps it out of most of those, the rest are counted and must be few.
schema='{"type":"object","properties":{"name":{"type":"string","maxLength":8},"n":{"type":"integer","minimum":1,"maximum":9},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["name","n"]}'
looped=0
for seed in 1 2 3 4 5 6; do
  # format json: any object; a random model rarely closes its strings, so only the start is checked here
  # (runtime_generator_test checks complete objects).
  "$locus" run "$dir/m.gguf" "Hi" --seed $seed --num-predict 30 --format json >"$dir/out" 2>"$dir/err"
  if [ "$(head -c 1 "$dir/out")" != "{" ]; then echo "FAIL --format json seed $seed: $(head -c 200 "$dir/out")"; fail=1; fi
  "$locus" run "$dir/m.gguf" "Hi" --seed $seed --num-ctx 1024 --repeat-penalty 1.5 --format "$schema" >"$dir/out" 2>"$dir/err"
  if grep -q "repeating itself" "$dir/err"; then looped=$((looped + 1)); continue; fi
  if ! node -e '
    const t = require("fs").readFileSync(process.argv[1], "utf8"); const j = JSON.parse(t);
    if (typeof j !== "object" || j === null || Array.isArray(j)) throw new Error("not an object");
    if (typeof j.name !== "string" || [...j.name].length > 8) throw new Error("name");
    if (!Number.isInteger(j.n) || j.n < 1 || j.n > 9) throw new Error("n");
    if (j.tags !== undefined && (j.tags.length > 2 || j.tags.some(x => x !== "a" && x !== "b"))) throw new Error("tags");
    for (const k of Object.keys(j)) if (!["name", "n", "tags"].includes(k)) throw new Error("key " + k);
    ' "$dir/out" 2>"$dir/why"; then
    echo "FAIL --format schema seed $seed: $(head -c 300 "$dir/why") in: $(head -c 300 "$dir/out") $(cat "$dir/err")"; fail=1
  fi
done
if [ $looped -gt 2 ]; then echo "FAIL --format: $looped of 6 answers ended by the loop guard"; fail=1; fi
[ $fail = 0 ] && echo "ok   --format json and a schema: answers parse and validate ($looped of 6 ended by the loop guard)"
# The issue's report: on the full tiny model (seed 7), thinking off, temperature 1, a thinking block used to eat
# all 256 tokens. Now the answer is the value from its first byte, and it parses or the CLI says it was cut.
"$mkmodel" --preset tiny --type Q8_0 --seed 7 -q -o "$dir/seven.gguf" || { echo "mkmodel failed"; exit 1; }
thing='{"type":"object","properties":{"name":{"type":"string","maxLength":12},"kind":{"enum":["animal","tool","place"]},"size":{"type":"integer","minimum":1,"maximum":10}},"required":["name","kind","size"]}'
for seed in 1 3 5 2 4 6; do
  "$locus" run "$dir/seven.gguf" "Describe a thing as JSON." --format "$thing" --temperature 1 --seed $seed \
    --num-predict 256 >"$dir/out" 2>"$dir/err"
  if grep -q "Thinking" "$dir/out" || [ "$(head -c 1 "$dir/out")" != "{" ]; then
    echo "FAIL --format, thinking off, seed $seed: not the value first: $(head -c 200 "$dir/out")"; fail=1
  elif grep -qE "stopped after|repeating itself" "$dir/err"; then echo "ok   --format seed $seed: cut, and said so: $(cat "$dir/err")"
  elif ! node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      if (!["animal","tool","place"].includes(j.kind) || !Number.isInteger(j.size)) throw new Error("invalid")' \
      "$dir/out" 2>"$dir/why"; then
    echo "FAIL --format seed $seed: $(head -c 200 "$dir/why") in: $(head -c 300 "$dir/out")"; fail=1
  else echo "ok   --format seed $seed: the value, valid"; fi
done

if "$locus" run "$dir/m.gguf" "Hi" --format '{"type":"string","pattern":"a+"}' >/dev/null 2>"$dir/err"; then
  echo "FAIL unsupported schema keyword accepted"; fail=1
elif ! grep -q "pattern" "$dir/err"; then echo "FAIL unsupported keyword: $(cat "$dir/err")"; fail=1
else echo "ok   unsupported schema keyword: $(cat "$dir/err")"; fi
if "$locus" run "$dir/m.gguf" "Hi" --think=maybe >/dev/null 2>&1; then echo "FAIL --think=maybe accepted"; fail=1; fi

help=$("$locus" run --help)
for flag in --think --hidethinking --mmap --raw --verbose --num-ctx --seed --format --loop-guard; do
  if ! grep -q -- "$flag" <<<"$help"; then echo "FAIL --help does not mention $flag"; fail=1; fi
done
[ $fail = 0 ] && echo "ok   --help"

if "$locus" run "$dir/missing.gguf" "Hi" >/dev/null 2>"$dir/err"; then echo "FAIL missing model: exit 0"; fail=1
elif [ "$(wc -l <"$dir/err")" -ne 1 ]; then echo "FAIL missing model: want one line, got: $(cat "$dir/err")"; fail=1
else echo "ok   missing model: $(cat "$dir/err")"; fi
exit $fail
