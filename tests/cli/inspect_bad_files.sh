#!/usr/bin/env bash
# Damaged GGUF files must get a one-line error and a non-zero exit from `locus inspect`: never a crash
# (a signal), a hang, or more than one line on stderr.
# usage: inspect_bad_files.sh LOCUS LOCUS_MKMODEL
set -u
locus=$1 mkmodel=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

"$mkmodel" --preset tiny --type Q8_0 --layers 1 --no-chat-template -q -o "$dir/good.gguf" || { echo "mkmodel failed"; exit 1; }
size=$(stat -c %s "$dir/good.gguf")

check_bad() {  # name file
  local name=$1 file=$2
  timeout 20 "$locus" inspect "$file" >"$dir/out" 2>"$dir/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$dir/err")
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1
  elif [ $rc -eq 124 ]; then echo "FAIL $name: hang (timeout)"; fail=1
  elif [ $rc -ge 128 ]; then echo "FAIL $name: killed by signal $((rc - 128))"; fail=1
  elif [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines lines on stderr"; cat "$dir/err"; fail=1
  else echo "ok   $name: $(cat "$dir/err")"; fi
}

# Truncations at many points: inside the header, the metadata, the tensor directory and the data.
for cut in 0 3 7 15 23 100 5000 200000 2000000 6000000 $((size / 2)) $((size - 1)); do
  head -c "$cut" "$dir/good.gguf" >"$dir/t.gguf"
  check_bad "truncated at $cut" "$dir/t.gguf"
done
# Bad magic and version.
{ printf 'GGUX'; tail -c +5 "$dir/good.gguf"; } >"$dir/m.gguf"; check_bad "bad magic" "$dir/m.gguf"
{ head -c 4 "$dir/good.gguf"; printf '\x09\x00\x00\x00'; tail -c +9 "$dir/good.gguf"; } >"$dir/v.gguf"
check_bad "version 9" "$dir/v.gguf"
# Oversized counts: tensor count and metadata count set to huge values.
{ head -c 8 "$dir/good.gguf"; printf '\xff\xff\xff\xff\xff\xff\xff\x7f'; tail -c +17 "$dir/good.gguf"; } >"$dir/c.gguf"
check_bad "huge tensor count" "$dir/c.gguf"
{ head -c 16 "$dir/good.gguf"; printf '\xff\xff\xff\xff\xff\xff\x00\x00'; tail -c +25 "$dir/good.gguf"; } >"$dir/k.gguf"
check_bad "huge metadata count" "$dir/k.gguf"
# First key's length set huge.
{ head -c 24 "$dir/good.gguf"; printf '\x00\x00\x00\x00\x00\x00\x00\x40'; tail -c +33 "$dir/good.gguf"; } >"$dir/s.gguf"
check_bad "huge string length" "$dir/s.gguf"
# Random garbage and an empty file.
head -c 100000 /dev/urandom >"$dir/r.gguf"; check_bad "random bytes" "$dir/r.gguf"
: >"$dir/e.gguf"; check_bad "empty file" "$dir/e.gguf"
check_bad "missing file" "$dir/does-not-exist.gguf"
check_bad "a directory" "$dir"

# And the good file still reads.
if ! "$locus" inspect "$dir/good.gguf" >/dev/null 2>"$dir/err"; then echo "FAIL good file: $(cat "$dir/err")"; fail=1; fi
exit $fail
