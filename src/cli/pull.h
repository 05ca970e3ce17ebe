// `locus pull NAME`: download a model from its registry into the locus store, as `ollama pull` does: the
// Ollama registry (gemma4:12b), Hugging Face GGUF repositories (hf.co/USER/REPO:QUANT) or a mirror
// (host[:port]/namespace/model:tag). Resumable: an interrupted pull (Ctrl-C, a dropped connection) keeps its
// partial blobs and the next pull continues them. Through a running locus server (POST /api/pull) when one
// answers at LOCUS_HOST, as `ollama pull` goes through its server.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace locus::cli {

struct PullCommandOptions {
  std::string model;
  bool insecure = false;  // --insecure: allow plain http to any registry
};

CLI::App* add_pull_command(CLI::App& app, PullCommandOptions& o);

// Returns the exit code: 0 on success, 1 on a failed pull (one line on stderr), 130 when interrupted.
int pull(const PullCommandOptions& o);

// A pull or a push (cli/push.h) with a progress bar: through a running locus server when one answers at
// LOCUS_HOST, else on the local store; Ctrl-C stops it. The exit code as above.
enum class RegistryTransfer { pull, push };
int run_registry_transfer(RegistryTransfer kind, const std::string& model, bool insecure);

}  // namespace locus::cli
