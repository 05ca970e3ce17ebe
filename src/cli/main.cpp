// locus: a local-first runtime for Gemma 4. This is the command-line entry point.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/bench.h"
#include "cli/inspect.h"
#include "cli/models.h"
#include "cli/pull.h"
#include "cli/push.h"
#include "cli/run.h"
#include "cli/serve.h"
#include "cli/tokenize.h"
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

  cli::TokenizeOptions to;
  auto* tokenize = app.add_subcommand("tokenize", "print the token ids of a text under a model's tokenizer");
  tokenize->add_option("model", to.model_path, "the .gguf file (only its tokenizer is read)")->required();
  tokenize->add_option("text", to.text, "the text; - or nothing reads standard input");
  tokenize->add_flag("--pieces", to.pieces, "one line per token: id -> 'piece'");
  tokenize->add_flag("--json", to.json, "print JSON: tokens, pieces, n_tokens");
  tokenize->add_flag("--no-bos", to.no_bos, "do not add the BOS token the model asks for");
  tokenize->add_flag("--parse-special", to.parse_special, "turn control-token text such as <|turn> into its token");

  cli::RunOptions ro;
  auto* run = cli::add_run_command(app, ro);
  cli::BenchOptions bo;
  auto* bench = cli::add_bench_command(app, bo);
  cli::ServeCommandOptions so;
  auto* serve = cli::add_serve_command(app, so);
  cli::PullCommandOptions po;
  auto* pull = cli::add_pull_command(app, po);
  cli::PushCommandOptions pso;
  auto* push = cli::add_push_command(app, pso);
  cli::ModelCommandOptions mo;
  cli::add_model_commands(app, mo);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (inspect->parsed()) cli::inspect(io, std::cout);
    if (tokenize->parsed()) cli::tokenize(to, std::cin, std::cout);
    if (run->parsed()) return cli::run(ro);
    if (bench->parsed()) return cli::bench(bo);
    if (serve->parsed()) return cli::serve(so, LOCUS_VERSION);
    if (pull->parsed()) return cli::pull(po);
    if (push->parsed()) return cli::push(pso);
    if (const auto code = cli::run_model_command(mo)) return *code;
  } catch (const gguf::GgufError& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  }
  return 0;
}
