// `locus bench MODEL`: prompt-processing and generation speed, measured like llama.cpp's llama-bench
// (pp: one batch of P random tokens from an empty cache; tg: N tokens one at a time from an empty cache)
// so bench/compare.sh can print the two side by side.
//
// With --image/--audio (and --mmproj): time to first token of a chat prompt holding those media and a short
// text, through the whole path `locus run` takes (file read and decode, projector, prefill of the media and
// text, first token sampled), split into its parts; and the prefill of a text-only prompt of the same length,
// so bench/media.sh can print them beside llama.cpp's llama-mtmd-cli.
#pragma once

#include <string>

#include <vector>

#include "cli/media_args.h"

namespace CLI {
class App;
}

namespace locus::cli {

struct BenchOptions {
  std::string model_path;
  int n_threads = 0;
  int n_prompt = 512;
  int n_gen = 128;
  int reps = 3;
  int n_batch = 512;
  bool json = false;
  bool mmap = false;
  // tg through the whole generation loop (sampler with Ollama's default options, stop handling), optionally
  // under a structured-output constraint: "json", a JSON Schema, or @FILE. Measures the constraint's cost.
  bool sampled = false;
  std::string format;
  // Media mode: the projector, the media files (images first, then audio, as one user turn before `prompt`).
  MediaArgs media;  // no video here
  std::string prompt = "Describe this.";
  int n_ctx = 4096;
};

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o);
int bench(const BenchOptions& o);

}  // namespace locus::cli
