#!/usr/bin/env bash
# Tokenizer parity with llama.cpp (see tokenizer_parity.cpp): writes a one-layer tiny model with Gemma 4's
# vocabulary, then compares locus's tokenizer with llama.cpp's on the whole corpus.
# Exit 77 (skipped) without Node.js's packages in tools/node_modules.
# usage: tokenizer_parity.sh LOCUS_MKMODEL TOKENIZER_PARITY NODE ORACLE_MJS
set -u
mkmodel=$1 parity=$2 node=$3 oracle=$4
tools_dir=$(dirname "$(dirname "$oracle")")
if [ ! -d "$tools_dir/node_modules/node-llama-cpp" ]; then
  echo "skipped: no node-llama-cpp in $tools_dir/node_modules (npm ci in tools/)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$mkmodel" --preset tiny --type Q8_0 --layers 1 --no-chat-template -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
"$parity" "$dir/m.gguf" "$node" "$oracle" "$dir"
