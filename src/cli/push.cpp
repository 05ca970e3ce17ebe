#include "cli/push.h"

#include <curl/curl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "cli/model_client.h"
#include "cli/progress.h"
#include "runtime/model_push.h"

namespace locus::cli {
namespace {

using nlohmann::json;

// Set by SIGINT while a push runs; the push stops within a second.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler writes this flag");

extern "C" void on_push_sigint(int) { g_interrupted.store(true); }

// SIGINT sets g_interrupted for as long as this lives.
class SigintToFlag {
 public:
  SigintToFlag() {
    g_interrupted = false;
    struct sigaction action {};
    action.sa_handler = on_push_sigint;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previous_);
  }
  ~SigintToFlag() { ::sigaction(SIGINT, &previous_, nullptr); }
  SigintToFlag(const SigintToFlag&) = delete;
  SigintToFlag& operator=(const SigintToFlag&) = delete;

 private:
  struct sigaction previous_ {};
};

// The NDJSON answer of POST /api/push, a line at a time: progress lines to the display, the last error kept.
struct ServerStream {
  BlobProgressDisplay* display = nullptr;
  std::string pending;
  std::string error;
  bool success = false;

  void take(std::string_view bytes) {
    pending.append(bytes);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      line(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  void finish() {
    if (!pending.empty()) line(pending);
    pending.clear();
  }
  void line(const std::string& text) {
    if (text.empty()) return;
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) {
      error = "the server answered something that is not JSON: " + text.substr(0, 200);
      return;
    }
    if (const auto e = j.find("error"); e != j.end()) {
      error = e->is_string() ? e->get<std::string>() : e->dump();
      return;
    }
    const std::string status = j.value("status", "");
    if (status == "success") success = true;
    const auto u64 = [&](const char* key) {
      const auto it = j.find(key);
      return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : uint64_t{0};
    };
    display->show(status, j.value("digest", ""), u64("total"), u64("completed"));
  }
};

size_t on_server_bytes(char* data, size_t size, size_t n, void* user) {
  static_cast<ServerStream*>(user)->take(std::string_view(data, size * n));
  return size * n;
}

int on_server_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return g_interrupted.load() ? 1 : 0;  // the server sees the client leave and stops the push
}

int push_through_server(const std::string& base, const PushCommandOptions& o, BlobProgressDisplay& display) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("cannot start libcurl");
  CURL* h = curl.get();
  const std::string url = base + "/api/push";
  const std::string body = json{{"model", o.model}, {"insecure", o.insecure}, {"stream", true}}.dump();
  ServerStream stream;
  stream.display = &display;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");  // the server is ours, never behind a proxy
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_server_bytes);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &stream);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_server_progress);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (const char* key = std::getenv("LOCUS_API_KEY"); key != nullptr && *key != '\0') {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + std::string(key)).c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  stream.finish();
  display.end_bar();
  if (g_interrupted.load()) {
    std::fprintf(stderr, "locus: push of '%s' cancelled\n", o.model.c_str());
    return 130;
  }
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "locus: POST %s: %s\n", url.c_str(), error[0] != '\0' ? error : curl_easy_strerror(rc));
    return 1;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (!stream.error.empty() || status != 200 || !stream.success) {
    std::string why = stream.error;
    if (why.empty()) why = "the server at " + base + " answered HTTP " + std::to_string(status) + " without success";
    std::fprintf(stderr, "locus: %s\n", why.c_str());
    return 1;
  }
  return 0;
}

int push_from_store(const PushCommandOptions& o, BlobProgressDisplay& display) {
  const runtime::ModelName name = runtime::parse_model_name(o.model);
  const runtime::ModelStore store = runtime::ModelStore::from_environment();
  runtime::PushOptions options;
  options.insecure = o.insecure;
  options.cancel = &g_interrupted;
  options.progress = [&](const runtime::PushProgress& p) { display.show(p.status, p.digest, p.total, p.completed); };
  try {
    runtime::push_model(store, name, options);
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

}  // namespace

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
  const SigintToFlag sigint;
  const std::string server = connect_model_client()->server_url();
  if (!server.empty()) return push_through_server(server, o, display);
  return push_from_store(o, display);
}

}  // namespace locus::cli
