#include "cli/push.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cli/interrupt.h"
#include "cli/model_client.h"
#include "cli/progress.h"
#include "runtime/model_name.h"

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

int push(const PushCommandOptions& o) {
  runtime::parse_model_name(o.model);  // a bad name fails here, before any server is asked
  BlobProgressDisplay display(::isatty(STDERR_FILENO) == 1);
  // Ctrl-C stops the push within a second (through a server: the request is abandoned, the server sees the
  // client leave and stops).
  const SigintFlag sigint;
  try {
    connect_model_client()->push(o.model, o.insecure, sigint.interrupted(), [&](const runtime::PullProgress& p) {
      display.show(p.status, p.digest, p.total, p.completed);
    });
  } catch (const std::exception& e) {
    display.end_bar();
    if (sigint.interrupted().load()) {
      std::fprintf(stderr, "locus: push of '%s' cancelled\n", o.model.c_str());
      return 130;
    }
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  }
  display.end_bar();
  return 0;
}

}  // namespace locus::cli
