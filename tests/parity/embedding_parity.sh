#!/usr/bin/env bash
# Embedding parity with llama.cpp (see embedding_parity.cpp): writes tiny random models, asks the oracle for
# llama.cpp's embeddings of a few texts (mean pooling, and the last token's), and compares locus's.
# Exit 77 (skipped) without Node.js's packages in tools/node_modules.
# usage: embedding_parity.sh LOCUS_MKMODEL EMBEDDING_PARITY NODE ORACLE_MJS
set -u
mkmodel=$1 parity=$2 node=$3 oracle=$4
tools_dir=$(dirname "$(dirname "$oracle")")
if [ ! -d "$tools_dir/node_modules/node-llama-cpp" ]; then
  echo "skipped: no node-llama-cpp in $tools_dir/node_modules (npm ci in tools/)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# One token past BOS, a sentence, non-ASCII text, token ids as given, and a text of ~300 tokens: longer
# than the tiny preset's sliding window (128) and than the small n_batch embedding_parity also runs.
long=""
for i in $(seq 1 24); do long+="Paragraph $i: retrieval keeps the nearest passages, then the model reads them. "; done
cat > "$dir/inputs.json" <<JSON
["Hi", "The quick brown fox jumps over the lazy dog.", "Grüße aus Köln — 東京の天気は晴れ。 🙂",
 {"tokens": [2, 100, 2000, 30000, 7]}, "$long"]
JSON
rc=0
for type in F32 Q8_0; do
  "$mkmodel" --preset tiny --type $type --no-chat-template -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
  for pooling in mean last; do
    echo "== tiny $type, pooling $pooling"
    "$node" "$oracle" embed --model "$dir/m.gguf" --json-input "$dir/inputs.json" --pooling $pooling > "$dir/answer.json" ||
      { echo "oracle failed"; exit 1; }
    "$parity" "$dir/m.gguf" "$dir/answer.json" --min-cosine 0.999 --batch 512 --batch 32 || rc=1
  done
  rm -f "$dir/m.gguf"
done
exit $rc
