#!/usr/bin/env bash
# `locus tokenize` as a command: the text from an argument or standard input, each output form, and a
# one-line error with a non-zero exit for a file it cannot use. The ids are llama.cpp's for these texts.
# usage: tokenize_command.sh LOCUS LOCUS_MKMODEL
set -u
locus=$1 mkmodel=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

"$mkmodel" --preset tiny --type Q8_0 --layers 1 --no-chat-template -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }

expect() {  # name want command...
  local name=$1 want=$2
  shift 2
  local got
  got=$("$@" 2>"$dir/err")
  local rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL $name: exit $rc: $(cat "$dir/err")"; fail=1
  elif [ "$got" != "$want" ]; then printf 'FAIL %s:\n  want %s\n  got  %s\n' "$name" "$want" "$got"; fail=1
  else echo "ok   $name"; fi
}

expect "text argument" "[2, 9259, 1902]" "$locus" tokenize "$dir/m.gguf" "Hello world"
expect "standard input" "[2, 9259, 1902]" bash -c "printf 'Hello world' | '$locus' tokenize '$dir/m.gguf'"
expect "dash reads standard input" "[9259, 1902, 107]" bash -c "printf 'Hello world\n' | '$locus' tokenize '$dir/m.gguf' - --no-bos"
expect "parse special" "[105, 2364, 107, 10979, 106]" \
  "$locus" tokenize "$dir/m.gguf" --no-bos --parse-special "<|turn>user
Hi<turn|>"
expect "control text stays text" "[236820, 236909, 887, 236813]" "$locus" tokenize "$dir/m.gguf" --no-bos "<|turn>"
expect "pieces" "     2 -> '<bos>'
  9259 -> 'Hello'
  1902 -> ' world'" "$locus" tokenize "$dir/m.gguf" --pieces "Hello world"
expect "json" '{"n_tokens":2,"pieces":["Hello"," world"],"tokens":[9259,1902]}' \
  "$locus" tokenize "$dir/m.gguf" --json --no-bos "Hello world"

check_error() {  # name command...
  local name=$1
  shift
  "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ "$(wc -l <"$dir/err")" -ne 1 ]; then
    echo "FAIL $name: exit $rc, stderr: $(cat "$dir/err")"; fail=1
  else echo "ok   $name: $(cat "$dir/err")"; fi
}
check_error "missing file" "$locus" tokenize "$dir/none.gguf" "x"
head -c 100 "$dir/m.gguf" >"$dir/cut.gguf"
check_error "truncated file" "$locus" tokenize "$dir/cut.gguf" "x"

exit $fail
