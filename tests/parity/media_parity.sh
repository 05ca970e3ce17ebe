#!/usr/bin/env bash
# Media parity with llama.cpp (see media_parity.cpp): projected embeddings of images and audio, and the logits
# after prompts with them, against locus-mtmd-oracle (llama.cpp's mtmd library over the prebuilt llama.cpp).
# Exit 77 (skipped) where the oracle was not built (no llama.cpp source bundle or prebuilt libraries).
# usage: media_parity.sh LOCUS_MKMODEL MEDIA_PARITY ORACLE WORK_DIR
set -u
mkmodel=$1 parity=$2 oracle=$3 work=$4
if [ -z "$oracle" ] || [ ! -x "$oracle" ]; then
  echo "skipped: locus-mtmd-oracle not built (needs .scratch/llama.cpp and node-llama-cpp's prebuilt libraries; scripts/setup)"
  exit 77
fi
exec "$parity" --mkmodel "$mkmodel" --oracle "$oracle" --work-dir "$work" --threads 2
