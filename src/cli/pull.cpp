#include "cli/pull.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "common/human.h"
#include "runtime/model_pull.h"

namespace locus::cli {
namespace {

// Set by SIGINT while a pull runs; the pull stops within a second and keeps what it has for the next one.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler writes this flag");

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// What `ollama pull` shows: one line per phase, and per blob "pulling 1a2b3c4d5e6f: 42% [####   ] 1.2 GiB/2.9 GiB"
// redrawn in place on a terminal. Without a terminal (a log, a pipe) each blob gets a line when it starts and
// one when it is complete, so the output stays short and readable.
class PullDisplay {
 public:
  explicit PullDisplay(bool terminal) : terminal_(terminal) {}

  void show(const runtime::PullProgress& p) {
    if (p.digest.empty()) {
      end_bar();
      std::fprintf(stderr, "%s\n", p.status.c_str());
      std::fflush(stderr);
      return;
    }
    const bool same_blob = p.digest == digest_;
    if (!same_blob) {
      end_bar();
      digest_ = p.digest;
      last_pct_ = -1;
    }
    const int pct = p.total == 0 ? 100 : static_cast<int>(p.completed * 100 / p.total);
    if (!terminal_) {
      // A line when the blob starts and one when it is done.
      if (!same_blob || (p.completed == p.total && last_pct_ != 100)) {
        std::fprintf(stderr, "%s: %3d%% %s\n", p.status.c_str(), pct, sizes(p).c_str());
      }
      last_pct_ = pct;
      return;
    }
    constexpr int kWidth = 30;
    const int filled = pct * kWidth / 100;
    std::fprintf(stderr, "\r%s: %3d%% [%.*s%*s] %s   ", p.status.c_str(), pct, filled,
                 "##############################", kWidth - filled, "", sizes(p).c_str());
    std::fflush(stderr);
    bar_open_ = true;
    last_pct_ = pct;
  }

  void end_bar() {
    if (bar_open_) std::fprintf(stderr, "\n");
    bar_open_ = false;
  }

 private:
  static std::string sizes(const runtime::PullProgress& p) {
    return human_bytes(double(p.completed)) + "/" + human_bytes(double(p.total));
  }

  bool terminal_;
  bool bar_open_ = false;
  std::string digest_;
  int last_pct_ = -1;
};

}  // namespace

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

  PullDisplay display(::isatty(STDERR_FILENO) == 1);
  runtime::PullOptions options;
  options.insecure = o.insecure;
  options.cancel = &g_interrupted;
  options.progress = [&](const runtime::PullProgress& p) { display.show(p); };

  g_interrupted = false;
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &previous);
  int code = 0;
  try {
    runtime::pull_model(store, name, options);
  } catch (const runtime::PullError& e) {
    display.end_bar();
    std::fprintf(stderr, "locus: %s\n", e.what());
    code = e.pull_kind() == runtime::PullErrorKind::cancelled ? 130 : 1;
  } catch (...) {
    display.end_bar();
    ::sigaction(SIGINT, &previous, nullptr);
    throw;  // main reports it
  }
  ::sigaction(SIGINT, &previous, nullptr);
  return code;
}

}  // namespace locus::cli
