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

help=$("$locus" run --help)
for flag in --think --hidethinking --mmap --raw --verbose --num-ctx --seed; do
  if ! grep -q -- "$flag" <<<"$help"; then echo "FAIL --help does not mention $flag"; fail=1; fi
done
[ $fail = 0 ] && echo "ok   --help"

if "$locus" run "$dir/missing.gguf" "Hi" >/dev/null 2>"$dir/err"; then echo "FAIL missing model: exit 0"; fail=1
elif [ "$(wc -l <"$dir/err")" -ne 1 ]; then echo "FAIL missing model: want one line, got: $(cat "$dir/err")"; fail=1
else echo "ok   missing model: $(cat "$dir/err")"; fi
exit $fail
