// The model-management commands, as Ollama's CLI has them: list, show, ps, cp, rm, stop, create. Each talks
// to a running locus server when one answers at LOCUS_HOST, else works on the local store (model_client.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace locus::cli {

struct ModelCommandOptions {
  std::string model;        // show, stop
  std::vector<std::string> models;  // rm
  std::string source, destination;  // cp
  bool modelfile = false, parameters = false, template_text = false, system = false, license = false;  // show
  std::string file;                 // create -f
  std::string quantize;             // create --quantize

  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* ps = nullptr;
  CLI::App* cp = nullptr;
  CLI::App* rm = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* create = nullptr;
};

void add_model_commands(CLI::App& app, ModelCommandOptions& o);

// Runs the model command that was parsed and returns its exit code, or nothing when none was. Errors are
// thrown (std::exception, one line) for main to print.
std::optional<int> run_model_command(const ModelCommandOptions& o);

// Rendering, exposed for tests. Sizes in Ollama's decimal units ("4.1 GB", "815 MB"); times relative to now
// ("2 days ago", "4 minutes from now").
std::string format_size(uint64_t bytes);
std::string format_ago(int64_t seconds);
std::string format_from_now(int64_t seconds);
std::string render_list(const nlohmann::json& tags, int64_t now_unix);
std::string render_ps(const nlohmann::json& ps, int64_t now_unix);
std::string render_show(const nlohmann::json& show);

}  // namespace locus::cli
