#!/usr/bin/env bash
# Chat-format parity with the GGUF's Jinja template (see chat_template_parity.cpp): writes a one-layer tiny
# model (locus-mkmodel embeds google-gemma-4-31B-it.jinja as tokenizer.chat_template), then compares locus's
# rendering and tokens with the oracle's on generated conversations.
# Exit 77 (skipped) without Node.js's packages in tools/node_modules.
# usage: chat_template_parity.sh LOCUS_MKMODEL CHAT_TEMPLATE_PARITY NODE ORACLE_MJS
set -u
mkmodel=$1 parity=$2 node=$3 oracle=$4
tools_dir=$(dirname "$(dirname "$oracle")")
for pkg in node-llama-cpp @huggingface/jinja; do
  if [ ! -d "$tools_dir/node_modules/$pkg" ]; then
    echo "skipped: no $pkg in $tools_dir/node_modules (npm ci in tools/)"
    exit 77
  fi
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$mkmodel" --preset tiny --type Q8_0 --layers 1 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
"$parity" "$dir/m.gguf" "$node" "$oracle" "$dir" 300
