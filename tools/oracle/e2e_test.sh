#!/usr/bin/env bash
# End-to-end checks of random Gemma 4 models against llama.cpp, through the oracle.
#
#   e2e_test.sh tiny      MKMODEL NODE ORACLE_MJS WORK_DIR [LLAMA_CPP_MODELS_DIR]
#   e2e_test.sh all-types MKMODEL NODE ORACLE_MJS WORK_DIR
#   e2e_test.sh cli-errors -      NODE ORACLE_MJS WORK_DIR
#
# tiny:       mkmodel's tiny preset in F16; llama.cpp loads it without complaints about the vocabulary,
#             gives finite logits, and tokenizes Gemma 4's special tokens to their ids. With
#             LLAMA_CPP_MODELS_DIR holding ggml-vocab-gemma-4.gguf.inp/.out (llama.cpp's tokenizer test
#             vectors), every vector must tokenize the same with our vocabulary.
# all-types:  the tiny preset in each storage type, each model loaded and evaluated, then deleted.
# cli-errors: the oracle's usage and load errors are one line on stderr with the right exit status.
# Exit 77 (CTest skip) when node-llama-cpp is not installed.
set -euo pipefail

mode=$1 mkmodel=$2 node=$3 oracle=$4 work_parent=$5 llama_models=${6:-}

if [ ! -d "$(dirname "$oracle")/../node_modules/node-llama-cpp" ]; then
  echo "skip: node-llama-cpp not installed (npm ci in tools/)"
  exit 77
fi

mkdir -p "$work_parent"
work=$(mktemp -d "$work_parent/oracle-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

# check FILE JS-EXPRESSION DESCRIPTION: the expression sees the parsed JSON as `d`.
check() {
  "$node" -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    let ok;
    try { ok = eval(process.argv[2]); } catch (e) { ok = false; console.error(e.message); }
    if (!ok) { console.error("FAIL: " + process.argv[3] + "\n  answer: " + JSON.stringify(d).slice(0, 2000)); process.exit(1); }
    console.log("ok: " + process.argv[3]);
  ' "$1" "$2" "$3"
}

oracle() { "$node" "$oracle" "$@"; }

# llama.cpp prints these three for Gemma 4's real vocabulary too (ggml-vocab-gemma-4.gguf); anything else
# at warning level or above is a finding.
known_warnings='/control-looking token: +212 .<\/s>.|control-looking token: +50 .<\|tool_response>.|removing .<\/s>. token from EOG list/'
no_unexpected_log="d.llama_log.every(l => !['warn','error','fatal'].includes(l.level) || ${known_warnings}.test(l.message))"

case "$mode" in
tiny)
  model=$work/tiny.gguf
  start=$(date +%s)
  "$mkmodel" --preset tiny --type F16 --seed 7 -o "$model"

  oracle info --model "$model" >"$work/info.json"
  check "$work/info.json" 'd.architecture === "gemma4" && d.tokenizer_model === "gemma4" && d.n_vocab === 262144' "info: gemma4, 262144 tokens"
  check "$work/info.json" 'd.special_tokens.bos === 2 && d.special_tokens.eos === 1 && d.add_bos === true' "info: bos 2, eos 1, add_bos"
  check "$work/info.json" '[1, 50, 106].every(t => d.eog_tokens.includes(t))' "info: <eos>, <|tool_response>, <turn|> end generation"
  check "$work/info.json" "$no_unexpected_log" "info: no unexpected llama.cpp warnings or errors"

  oracle eval-finite --model "$model" >"$work/eval.json"
  check "$work/eval.json" 'd.finite === true && d.non_finite === 0 && d.n_vocab === 262144' "eval-finite: all logits finite"
  check "$work/eval.json" 'd.tokens[0] === 2 && d.tokens.length >= 2 && d.tokens.length <= 3' "eval-finite: BOS + Hello"
  check "$work/eval.json" 'd.top.length === 5 && d.top.every(([id, v]) => Number.isInteger(id) && Number.isFinite(v))' "eval-finite: top 5"

  printf '%s' '["<|turn>user\nHi<turn|>", "<|channel>thought", "<|\"|>", "Hello world", "Hello, world!"]' >"$work/texts.json"
  oracle tokenize --model "$model" --json-input "$work/texts.json" --special >"$work/tok.json"
  check "$work/tok.json" 'd.items.length === 5 && d.bos_added === false' "tokenize: 5 items, no BOS added"
  check "$work/tok.json" 'const t = d.items[0].tokens; t[0] === 105 && t[t.length - 1] === 106 && t.length >= 4 && t.length <= 6' "tokenize: <|turn>...<turn|> with --special"
  check "$work/tok.json" '!d.items[0].tokens_no_parse_special.includes(105) && !d.items[0].tokens_no_parse_special.includes(106)' "tokenize: control tokens not parsed without --special"
  check "$work/tok.json" 'd.items[1].tokens_no_parse_special[0] === 100 && d.items[1].tokens_no_parse_special.length === 2' "tokenize: <|channel> is 100 even without --special"
  check "$work/tok.json" 'JSON.stringify(d.items[2].tokens_no_parse_special) === "[52]"' "tokenize: <|\"|> is 52 without --special"
  check "$work/tok.json" 'JSON.stringify(d.items[3].tokens) === "[9259,1902]" && JSON.stringify(d.items[4].tokens) === "[9259,236764,1902,236888]"' "tokenize: Hello world as llama.cpp's test vectors"

  oracle detokenize --model "$model" --tokens 105,2364,107,100,52 >"$work/detok.json"
  check "$work/detok.json" 'd.items[0].text === "user\n<|channel><|\"|>"' "detokenize: control hidden, user-defined rendered"

  oracle logits --model "$model" --tokens 2,105,2364,107,10979,106 --positions 0,-1 --top 3 >"$work/logits.json"
  check "$work/logits.json" 'd.all_finite && d.items[0].positions.length === 2 && d.items[0].positions[1].position === 5 && d.items[0].batch_size >= 6' "logits: two positions, one batch, finite"

  if [ -n "$llama_models" ] && [ -f "$llama_models/ggml-vocab-gemma-4.gguf.inp" ] && [ -f "$llama_models/ggml-vocab-gemma-4.gguf.out" ]; then
    "$node" -e '
      const fs = require("fs");
      const inp = fs.readFileSync(process.argv[1], "utf8").split("\n__ggml_vocab_test__\n");
      fs.writeFileSync(process.argv[2], JSON.stringify(inp));
    ' "$llama_models/ggml-vocab-gemma-4.gguf.inp" "$work/vectors.json"
    oracle tokenize --model "$model" --json-input "$work/vectors.json" >"$work/vectors_tok.json"
    "$node" -e '
      const fs = require("fs");
      const got = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).items;
      const want = fs.readFileSync(process.argv[2], "utf8").split("\n");
      let bad = 0;
      got.forEach((it, i) => {
        const w = (want[i] ?? "").trim() === "" ? [] : want[i].trim().split(/\s+/).map(Number);
        if (JSON.stringify(w) !== JSON.stringify(it.tokens)) { bad++; console.error("vector " + i + " " + JSON.stringify(it.text) + ": want " + JSON.stringify(w) + " got " + JSON.stringify(it.tokens)); }
      });
      if (bad) { console.error("FAIL: " + bad + " of " + got.length + " llama.cpp tokenizer vectors differ"); process.exit(1); }
      console.log("ok: all " + got.length + " llama.cpp gemma-4 tokenizer vectors match");
    ' "$work/vectors_tok.json" "$llama_models/ggml-vocab-gemma-4.gguf.out"
  else
    echo "note: llama.cpp's gemma-4 tokenizer vectors not found (scripts/setup extracts them); vector check skipped"
  fi
  echo "tiny end-to-end: $(($(date +%s) - start)) s"
  ;;

all-types)
  start=$(date +%s)
  for type in F32 F16 BF16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K; do
    t0=$(date +%s)
    model=$work/tiny-$type.gguf
    "$mkmodel" --preset tiny --type "$type" --seed 7 -o "$model" --quiet
    bytes=$(stat -c %s "$model")
    oracle eval-finite --model "$model" >"$work/eval-$type.json"
    rm -f "$model"
    check "$work/eval-$type.json" 'd.finite === true && d.n_vocab === 262144' "$type ($bytes bytes): loads, logits finite ($(($(date +%s) - t0)) s)"
  done
  echo "all types: $(($(date +%s) - start)) s"
  ;;

cli-errors)
  # expect_error STATUS DESCRIPTION -- oracle args...: exit status and a single "oracle: " line on stderr.
  expect_error() {
    local want=$1 what=$2
    shift 3
    local status=0
    oracle "$@" >"$work/out" 2>"$work/err" || status=$?
    if [ "$status" != "$want" ]; then echo "FAIL: $what: exit $status, want $want"; cat "$work/err"; exit 1; fi
    if [ "$(wc -l <"$work/err")" != 1 ] || ! grep -q '^oracle: ' "$work/err"; then
      echo "FAIL: $what: stderr is not one 'oracle: ' line:"; cat "$work/err"; exit 1
    fi
    if [ -s "$work/out" ]; then echo "FAIL: $what: stdout not empty"; exit 1; fi
    echo "ok: $what ($(cat "$work/err"))"
  }
  head -c 4096 /dev/urandom >"$work/garbage.gguf"
  expect_error 2 "no command" -- --model "$work/garbage.gguf"
  expect_error 2 "unknown command" -- frobnicate --model "$work/garbage.gguf"
  expect_error 2 "missing --model" -- info
  expect_error 2 "model file missing" -- info --model "$work/nonexistent.gguf"
  expect_error 2 "bad --tokens" -- detokenize --model "$work/garbage.gguf" --tokens 1,x
  expect_error 1 "not a GGUF" -- info --model "$work/garbage.gguf"
  ;;

*)
  echo "unknown mode $mode" >&2
  exit 2
  ;;
esac
