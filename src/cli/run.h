// `locus run MODEL [PROMPT]`: generate from a Gemma 4 GGUF. With a prompt, stream the answer and exit;
// without, an interactive chat in the style of `ollama run`.
#pragma once

#include <string>
#include <vector>

#include "cli/media_args.h"
#include "runtime/sampling_options.h"

namespace CLI {
class App;
}

namespace locus::cli {

struct RunOptions {
  std::string model_path;
  std::string prompt;
  runtime::SamplingOptions sampling;
  int n_threads = 0;
  bool raw = false;      // send the prompt as it is, without the chat turn markers
  bool verbose = false;  // timings after each answer
  bool hide_thinking = false;  // do not show thinking text
  bool think = false;    // open the turn without the empty thought block (the model may think)
  std::string think_value;  // --think[=VALUE] as given: true, false, or a level (low, medium, high, max)
  std::string format;    // --format: "json", a JSON Schema, or @FILE holding one; empty = free text
  int loop_guard = 256;  // --loop-guard: tokens of exact repetition that end the answer; 0 disables
  bool mmap = false;     // weights in place from the mapped file (Gemma4ModelOptions::mmap)
  // Media for the prompt (in this order: images, audio, videos) and the projector (--mmproj; else the store
  // entry's, else one beside the model file).
  MediaArgs media;
};

// Adds the `run` subcommand with its options (named after Ollama's) to app.
CLI::App* add_run_command(CLI::App& app, RunOptions& o);

// Returns the process exit code. Errors are reported on stderr as one line.
int run(RunOptions& o);

}  // namespace locus::cli
