#include "cli/pull.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cli/interrupt.h"
#include "cli/progress.h"
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
      "downloaded; pulling again resumes it. Every blob is checked against its sha256 digest.");
  return cmd;
}

int pull(const PullCommandOptions& o) {
  const runtime::ModelName name = runtime::parse_model_name(o.model);
  runtime::ModelStore store = runtime::ModelStore::from_environment();

  BlobProgressDisplay display(::isatty(STDERR_FILENO) == 1);
  // Ctrl-C stops the pull within a second; it keeps what it has for the next one.
  const SigintFlag sigint;
  runtime::PullOptions options;
  options.insecure = o.insecure;
  options.cancel = &sigint.interrupted();
  options.progress = [&](const runtime::PullProgress& p) { display.show(p.status, p.digest, p.total, p.completed); };
  try {
    runtime::pull_model(store, name, options);
  } catch (const runtime::PullError& e) {
    display.end_bar();
    std::fprintf(stderr, "locus: %s\n", e.what());
    return e.pull_kind() == runtime::PullErrorKind::cancelled ? 130 : 1;
  } catch (...) {
    display.end_bar();
    throw;  // main reports it
  }
  return 0;
}

}  // namespace locus::cli
