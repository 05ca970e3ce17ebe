// locus: a local-first runtime for Gemma 4. This is the command-line entry point.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/inspect.h"
#include "gguf/file.h"

#ifndef LOCUS_VERSION
#define LOCUS_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace locus;
  CLI::App app{"locus: run Gemma 4 models locally", "locus"};
  app.require_subcommand(1);
  app.set_version_flag("--version", LOCUS_VERSION);
  app.footer("Run 'locus COMMAND --help' for a command's options.");

  cli::InspectOptions io;
  auto* inspect = app.add_subcommand("inspect", "describe a GGUF file: architecture, parameters, metadata, tensors");
  inspect->add_option("file", io.path, "the .gguf file")->required();
  inspect->add_flag("--json", io.json, "print JSON for machines");
  inspect->add_flag("--all", io.all_metadata, "print long metadata arrays in full");
  inspect->add_flag("--no-tensors", io.no_tensors, "leave out the tensor table");

  // Commands of the full design that this build does not have yet get a plain answer, not a parse error.
  if (argc > 1) {
    const std::string cmd = argv[1];
    for (const char* planned : {"serve", "run", "pull", "list", "show", "ps", "create", "cp", "rm", "stop", "tokenize", "bench"}) {
      if (cmd == planned) {
        std::fprintf(stderr, "locus: '%s' is not available in this version yet; available: inspect (see locus --help)\n",
                     planned);
        return 2;
      }
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (inspect->parsed()) cli::inspect(io, std::cout);
  } catch (const gguf::GgufError& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  }
  return 0;
}
