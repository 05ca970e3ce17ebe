// `locus serve`: the Ollama- and OpenAI-compatible HTTP server (docs/serve.md).
#pragma once

#include <string>
#include <vector>

#include "server/server_config.h"

namespace CLI {
class App;
}

namespace locus::cli {

struct ServeCommandOptions {
  std::string host;        // --host; empty: LOCUS_HOST, else 127.0.0.1:11434
  int slots = 0;           // 0: LOCUS_NUM_PARALLEL, else 4
  int max_queue = 0;       // 0: LOCUS_MAX_QUEUE, else 32
  int ctx = 0;             // 0: LOCUS_CONTEXT_LENGTH, else 4096
  std::string keep_alive;  // empty: LOCUS_KEEP_ALIVE, else 5m
  int threads = 0;
  int loop_guard = 256;  // --loop-guard: tokens of exact repetition that end an answer; 0 disables
  std::vector<std::string> models;      // --model NAME=PATH, repeatable; after LOCUS_MODEL_FILES's
  std::vector<std::string> model_dirs;  // --model-dir DIR, repeatable; after LOCUS_MODEL_DIR
  std::string mmproj;                   // --mmproj FILE: the projector of the one served file
  bool no_mmproj = false;               // --no-mmproj: no projector for served files, none searched for
  bool allow_media_urls = false;        // --allow-media-urls (LOCUS_ALLOW_MEDIA_URLS)
  int image_tokens = 0;                 // --image-tokens: the default image budget (0: the rule's default)
  std::string image_size_rule;          // --image-size-rule google | llama.cpp (default google)
};

CLI::App* add_serve_command(CLI::App& app, ServeCommandOptions& o);

// Serves until SIGINT or SIGTERM; returns the exit code (0 after a signal, 1 when it cannot start).
int serve(const ServeCommandOptions& o, const std::string& version);

}  // namespace locus::cli
