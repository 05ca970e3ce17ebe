// `locus push NAME`: upload a model from the store to the registry its name points at, as `ollama push` does
// (HOST[:PORT]/NAMESPACE/MODEL[:TAG]; blobs the registry already has are skipped). Through a running locus
// server (POST /api/push) when one answers at LOCUS_HOST, else straight from the local store.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace locus::cli {

struct PushCommandOptions {
  std::string model;
  bool insecure = false;  // --insecure: allow plain http to any registry
};

CLI::App* add_push_command(CLI::App& app, PushCommandOptions& o);

// Returns the exit code: 0 on success, 1 on a failed push (one line on stderr), 130 when interrupted.
int push(const PushCommandOptions& o);

}  // namespace locus::cli
