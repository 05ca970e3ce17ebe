#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-bench, llama-completion, llama-server, llama-mtmd-cli) from the source bundled
# in node-llama-cpp (extracted by scripts/setup into .scratch/llama.cpp), CPU only, tuned for this machine, into
# .scratch/llama-build. They are benchmark peers, never part of locus. Prints the bin folder.
#   bench/llama_tools.sh [TOOL...]   only these tools (default: all four); only the missing ones are built
#   LLAMA_BIN=DIR   use llama.cpp tools already built in DIR instead
set -euo pipefail
if [ -n "${LLAMA_BIN:-}" ]; then echo "$LLAMA_BIN"; exit 0; fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/.scratch/llama.cpp build=$root/.scratch/llama-build
[ -d "$src" ] || "$root/scripts/setup" >&2
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(llama-bench llama-completion llama-server llama-mtmd-cli)
targets=()
for t in "${wanted[@]}"; do [ -x "$build/bin/$t" ] || targets+=("$t"); done
if [ ${#targets[@]} -gt 0 ]; then
  echo "building llama.cpp tools (${targets[*]}) in $build; this takes several minutes the first time" >&2
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=ON -DGGML_CCACHE=OFF >/dev/null
  cmake --build "$build" --target "${targets[@]}" >&2
fi
echo "$build/bin"
