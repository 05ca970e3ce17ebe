#include "cli/pull.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cli/interrupt.h"
#include "cli/model_client.h"
#include "cli/progress.h"
#include "runtime/model_name.h"
#include "runtime/model_pull.h"

namespace locus::cli {

CLI::App* add_pull_command(CLI::App& app, PullCommandOptions& o) {
  auto* cmd = app.add_subcommand("pull", "download a model from a registry into the locus store (resumable)");
  cmd->add_option("model", o.model,
                  "NAME[:TAG] (registry.ollama.ai), hf.co/USER/REPO[:QUANT] (Hugging Face GGUF), or "
                  "HOST[:PORT]/NAMESPACE/MODEL[:TAG]")
      ->required();
  cmd->add_flag("--insecure", o.insecure,
                "use plain http instead of https (loopback registries such as 127.0.0.1:PORT and localhost "
                "always use http)");
  cmd->footer(
      "Models are stored under $LOCUS_MODELS (default ~/.locus/models). An interrupted pull keeps what it has "
      "downloaded; pulling again resumes it. Every blob is checked against its sha256 digest. Through a running "
      "locus server (LOCUS_HOST) when one answers, into its store; else directly.");
  return cmd;
}

int run_registry_transfer(RegistryTransfer kind, const std::string& model, bool insecure) {
  runtime::parse_model_name(model);  // a bad name fails here, before any server is asked
  const char* what = kind == RegistryTransfer::pull ? "pull" : "push";
  BlobProgressDisplay display(::isatty(STDERR_FILENO) == 1);
  // Ctrl-C stops the transfer within a second (a pull keeps what it has for the next one; through a server the
  // request is abandoned, and the server, seeing the client leave, stops).
  const SigintFlag sigint;
  try {
    const auto client = connect_model_client();
    const auto show = [&](const runtime::PullProgress& p) { display.show(p.status, p.digest, p.total, p.completed); };
    if (kind == RegistryTransfer::pull) client->pull(model, insecure, sigint.interrupted(), show);
    else client->push(model, insecure, sigint.interrupted(), show);
  } catch (const std::exception& e) {
    display.end_bar();
    if (sigint.interrupted().load()) {
      std::fprintf(stderr, "locus: %s of '%s' cancelled\n", what, model.c_str());
      return 130;
    }
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  }
  display.end_bar();
  return 0;
}

int pull(const PullCommandOptions& o) { return run_registry_transfer(RegistryTransfer::pull, o.model, o.insecure); }

}  // namespace locus::cli
