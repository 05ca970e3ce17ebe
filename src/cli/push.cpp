#include "cli/push.h"

#include <CLI/CLI.hpp>

#include "cli/pull.h"

namespace locus::cli {

CLI::App* add_push_command(CLI::App& app, PushCommandOptions& o) {
  auto* cmd = app.add_subcommand("push", "upload a model from the store to a registry");
  cmd->add_option("model", o.model,
                  "HOST[:PORT]/NAMESPACE/MODEL[:TAG]: the store's model of that name goes to that registry "
                  "(NAMESPACE/MODEL[:TAG] means registry.ollama.ai)")
      ->required();
  cmd->add_flag("--insecure", o.insecure,
                "use plain http instead of https (loopback registries such as 127.0.0.1:PORT and localhost "
                "always use http)");
  cmd->footer(
      "Speaks the Docker distribution v2 upload protocol: blobs the registry already has are skipped, the others "
      "are uploaded and checked against their sha256 digest as they go, then the manifest is sent as stored. "
      "locus sends no credentials, so a registry that wants them refuses the push. Models in Ollama's store "
      "can be pushed too. Through a running locus server (LOCUS_HOST) when one answers, else directly.");
  return cmd;
}

int push(const PushCommandOptions& o) { return run_registry_transfer(RegistryTransfer::push, o.model, o.insecure); }

}  // namespace locus::cli
