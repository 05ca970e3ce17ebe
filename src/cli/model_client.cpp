#include "cli/model_client.h"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

#include <unistd.h>

#include "cli/progress.h"
#include "runtime/model_create.h"
#include "runtime/model_push.h"
#include "runtime/model_show.h"
#include "runtime/model_store.h"
#include "runtime/sha256.h"
#include "server/server_config.h"

namespace locus::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The runtime's answers keep Ollama's field order (ordered_json); the CLI reads them by name.
json plain(const nlohmann::ordered_json& j) { return json::parse(j.dump()); }

// `locus show` from the store (or a GGUF path) on this machine, in /api/show's shape.
json show_from_store(const runtime::ModelStore& store, const std::string& model) {
  runtime::ShownModel shown = runtime::show_model(store, model, false);
  json out = plain(shown.body);
  out["modified_at"] = rfc3339(shown.resolved.modified_at);
  return out;
}

// ---- HTTP ----

struct HttpReply {
  long status = 0;
  std::string body;
};

class Curl {
 public:
  Curl() : h_(curl_easy_init()) {
    if (h_ == nullptr) throw std::runtime_error("cannot start libcurl");
  }
  ~Curl() { curl_easy_cleanup(h_); }
  Curl(const Curl&) = delete;
  Curl& operator=(const Curl&) = delete;
  CURL* get() const { return h_; }

 private:
  CURL* h_;
};

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<std::function<void(std::string_view)>*>(user);
  (*sink)(std::string_view(data, size * n));
  return size * n;
}

struct Transfer {
  std::FILE* file = nullptr;  // the body to upload, if any
  std::function<void(uint64_t sent, uint64_t total)> progress;
  const std::atomic<bool>* cancel = nullptr;
};
size_t read_upload(char* buffer, size_t size, size_t n, void* user) {
  return std::fread(buffer, 1, size * n, static_cast<Transfer*>(user)->file);
}
int transfer_progress(void* user, curl_off_t, curl_off_t, curl_off_t total, curl_off_t sent) {
  const auto* t = static_cast<Transfer*>(user);
  if (t->cancel != nullptr && t->cancel->load()) return 1;  // abandons the request
  if (t->progress && total > 0) t->progress(static_cast<uint64_t>(sent), static_cast<uint64_t>(total));
  return 0;
}

// One request. `on_data` sees the body as it arrives (NDJSON progress); a failure to connect throws.
// timeout_ms 0 means none (a create can run for minutes). `upload` is sent as the body, with `on_sent`
// called as it goes. Setting `cancel` abandons the request (it throws; the server sees the client leave).
HttpReply http(const std::string& method, const std::string& url, const std::string* body, long timeout_ms,
               const std::function<void(std::string_view)>& on_data = {}, const fs::path* upload = nullptr,
               const std::function<void(uint64_t sent, uint64_t total)>& on_sent = {},
               const std::atomic<bool>* cancel = nullptr) {
  Curl curl;
  CURL* h = curl.get();
  HttpReply reply;
  std::function<void(std::string_view)> sink = [&](std::string_view chunk) {
    if (on_data) on_data(chunk);
    else reply.body.append(chunk);
  };
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");  // the server is ours, never behind a proxy
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  if (timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_slist* headers = nullptr;
  if (const char* key = std::getenv("LOCUS_API_KEY"); key != nullptr && *key != '\0') {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + std::string(key)).c_str());
  }
  Transfer up;
  up.progress = on_sent;
  up.cancel = cancel;
  if (on_sent || cancel != nullptr) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, transfer_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &up);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (upload != nullptr) {
    up.file = std::fopen(upload->c_str(), "rb");
    if (up.file == nullptr) throw std::runtime_error("cannot open " + upload->string());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(fs::file_size(*upload)));
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  } else if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    headers = curl_slist_append(headers, "Content-Type: application/json");
  }
  if (headers != nullptr) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (up.file != nullptr) std::fclose(up.file);
  if (rc != CURLE_OK) {
    throw std::runtime_error(method + " " + url + ": " + (error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

// The server's one-line error from an Ollama error body, or the status.
std::string error_text(const HttpReply& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return "the server answered HTTP " + std::to_string(r.status);
}

class HttpClient : public ModelClient {
 public:
  explicit HttpClient(std::string base) : base_(std::move(base)) {}
  std::string server_url() const override { return base_; }

  json tags() override { return call("GET", "/api/tags"); }
  json show(const std::string& model) override {
    // A GGUF path is a file on this machine, which the server never opens for a request (a request names
    // models only): read it here, as `locus show` does without a server.
    if (runtime::ModelStore::looks_like_path(model)) {
      return show_from_store(runtime::ModelStore::from_environment(), model);
    }
    return call("POST", "/api/show", json{{"model", model}});
  }
  std::optional<json> ps() override { return call("GET", "/api/ps"); }
  void copy(const std::string& source, const std::string& destination) override {
    call("POST", "/api/copy", json{{"source", source}, {"destination", destination}});
  }
  void remove(const std::string& model) override { call("DELETE", "/api/delete", json{{"model", model}}); }
  void stop(const std::string& model) override {
    call("POST", "/api/generate", json{{"model", model}, {"keep_alive", 0}, {"stream", false}});
  }

  void create(const std::string& name, const std::string& modelfile, const fs::path& base_dir,
              const std::optional<std::string>& quantize,
              const std::function<void(const std::string&)>& progress) override {
    // Parsed here so that its errors name the line, as they do without a server.
    const runtime::Modelfile mf = runtime::parse_modelfile(modelfile);
    json body{{"model", name}, {"stream", true}};
    // Each FROM (a model, and a second one for its projector): a file goes up as a blob, Ollama's way (the
    // server may be on another file system), and create names it in "files", where the server tells model and
    // projector apart by content; a model name goes in "from".
    std::vector<runtime::ModelfileFrom> froms{{mf.from, mf.from_line}};
    froms.insert(froms.end(), mf.more_from.begin(), mf.more_from.end());
    int name_line = 0;
    for (const runtime::ModelfileFrom& f : froms) {
      fs::path from = f.value;
      if (f.value.starts_with("~/")) {
        if (const char* home = std::getenv("HOME")) from = fs::path(home) / f.value.substr(2);
      }
      if (from.is_relative()) from = base_dir / from;
      std::error_code ec;
      if (fs::is_regular_file(from, ec)) {
        // The name only has to say GGUF, and be unique in "files".
        std::string file = from.filename().string();
        if (!file.ends_with(".gguf")) file += ".gguf";
        if (body.contains("files") && body["files"].contains(file)) file = std::to_string(f.line) + "-" + file;
        body["files"][file] = upload_blob(from, progress);
      } else if (runtime::ModelStore::looks_like_path(f.value) || fs::exists(from, ec)) {
        throw runtime::ModelfileError(f.line, "FROM " + from.string() + ": not a GGUF file");
      } else {
        if (name_line != 0) {
          throw runtime::ModelfileError(f.line, "a second model (line " + std::to_string(name_line) +
                                                    " names one): a Modelfile names one model and at most one "
                                                    "projector GGUF");
        }
        name_line = f.line;
        body["from"] = f.value;
      }
    }
    if (mf.template_text) body["template"] = *mf.template_text;
    if (mf.system) body["system"] = *mf.system;
    if (!mf.parameters.empty()) body["parameters"] = json::parse(mf.parameters.dump());
    if (!mf.messages.empty()) {
      for (const auto& m : mf.messages) body["messages"].push_back({{"role", m.role}, {"content", m.content}});
    }
    if (!mf.licenses.empty()) body["license"] = mf.licenses;
    if (quantize) body["quantize"] = *quantize;

    ndjson_call("/api/create", body, [&](const json& j) {
      if (j.contains("status") && j["status"].is_string() && progress) progress(j["status"].get<std::string>());
    });
  }

  void pull(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
            const std::function<void(const runtime::PullProgress&)>& progress) override {
    transfer("/api/pull", "pull", model, insecure, cancel, progress);
  }
  void push(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
            const std::function<void(const runtime::PullProgress&)>& progress) override {
    transfer("/api/push", "push", model, insecure, cancel, progress);
  }

 private:
  // /api/pull or /api/push: progress lines in Ollama's shape, ending with {"status":"success"}.
  void transfer(const std::string& path, const char* what, const std::string& model, bool insecure,
                const std::atomic<bool>& cancel, const std::function<void(const runtime::PullProgress&)>& progress) {
    bool success = false;
    ndjson_call(path, json{{"model", model}, {"insecure", insecure}, {"stream", true}}, [&](const json& j) {
      runtime::PullProgress p;
      p.status = j.value("status", "");
      p.digest = j.value("digest", "");
      p.total = j.value("total", uint64_t{0});
      p.completed = j.value("completed", uint64_t{0});
      success = success || p.status == "success";
      if (progress) progress(p);
    }, &cancel);
    if (!success) throw std::runtime_error("the server at " + base_ + " ended the " + what + " without success");
  }

  // POST with an NDJSON answer (create, pull, push): each line's JSON object to on_line; an {"error": ...} line or an
  // HTTP error status throws with the server's message.
  void ndjson_call(const std::string& path, const json& body, const std::function<void(const json&)>& on_line,
                   const std::atomic<bool>* cancel = nullptr) {
    std::string pending, whole, failure;
    const auto line = [&](std::string_view text) {
      const json j = json::parse(text, nullptr, false);
      if (!j.is_object()) return;
      if (j.contains("error")) failure = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
      else on_line(j);
    };
    const std::string text = body.dump();
    const HttpReply r = http("POST", base_ + path, &text, 0, [&](std::string_view chunk) {
      whole.append(chunk);
      pending.append(chunk);
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        line(std::string_view(pending).substr(0, nl));
        pending.erase(0, nl + 1);
      }
    }, nullptr, {}, cancel);
    if (!pending.empty()) line(pending);
    if (r.status >= 400) throw std::runtime_error(error_text(HttpReply{r.status, whole}));
    if (!failure.empty()) throw std::runtime_error(failure);
  }

  // A null body sends none (GET).
  json call(const std::string& method, const std::string& path, const json& body = nullptr) {
    const std::string text = body.is_null() ? std::string() : body.dump();
    const HttpReply r = http(method, base_ + path, body.is_null() ? nullptr : &text, 0);
    if (r.status >= 400) throw std::runtime_error(error_text(r));
    if (r.body.empty()) return json::object();
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error(method + " " + path + ": the server's answer is not JSON");
    return j;
  }

  // Ollama's protocol: HEAD /api/blobs/DIGEST says whether the server has it, POST uploads it. Hashing and
  // uploading show bars on a terminal (a line at the start and the end otherwise).
  std::string upload_blob(const fs::path& file, const std::function<void(const std::string&)>& progress) {
    if (progress) progress("gathering model components");
    BlobProgressDisplay display(::isatty(STDERR_FILENO) == 1);
    const std::string name = file.filename().string();
    const std::string digest =
        "sha256:" + runtime::sha256_file_hex(file, [&](uint64_t done, uint64_t total) {
          display.show("hashing " + name, "file:" + file.string(), total, done);
        });
    display.end_bar();
    const std::string url = base_ + "/api/blobs/" + digest;
    const HttpReply head = http("HEAD", url, nullptr, 10000);
    if (head.status == 200) {
      if (progress) progress("using existing layer " + digest);
      return digest;
    }
    if (head.status == 401) {  // a HEAD answer has no body to say so
      throw std::runtime_error("the server at " + base_ + " wants an API key: missing or wrong LOCUS_API_KEY");
    }
    const std::string status = "copying file " + digest.substr(7, 12);
    const HttpReply r = http("POST", url, nullptr, 0, {}, &file, [&](uint64_t sent, uint64_t total) {
      display.show(status, digest, total, sent);
    });
    display.end_bar();
    if (r.status == 404 || r.status == 405) {
      throw std::runtime_error("the server at " + base_ +
                               " does not accept model files (POST /api/blobs); create the model without it: stop "
                               "the server or set LOCUS_HOST to a free port");
    }
    if (r.status >= 400) throw std::runtime_error(error_text(r));
    return digest;
  }

  std::string base_;
};

// ---- the local store ----

class LocalClient : public ModelClient {
 public:
  LocalClient() : store_(runtime::ModelStore::from_environment()) {}
  std::string server_url() const override { return {}; }

  json tags() override {
    json models = json::array();
    for (const auto& e : store_.list()) {
      models.push_back({{"name", e.display_name},
                        {"model", e.display_name},
                        {"modified_at", rfc3339(e.modified_at)},
                        {"size", e.size_bytes},
                        {"digest", e.digest},
                        {"details", plain(runtime::details_json(e.details))}});
    }
    return json{{"models", models}};
  }

  json show(const std::string& model) override { return show_from_store(store_, model); }

  std::optional<json> ps() override { return std::nullopt; }
  void copy(const std::string& source, const std::string& destination) override {
    store_.copy(runtime::parse_model_name(source), runtime::parse_model_name(destination));
  }
  void remove(const std::string& model) override { store_.remove(runtime::parse_model_name(model)); }
  void stop(const std::string& model) override {
    throw std::runtime_error("no locus server is running at " + server_base_url() + ", so \"" + model +
                             "\" is not loaded");
  }
  void create(const std::string& name, const std::string& modelfile, const fs::path& base_dir,
              const std::optional<std::string>& quantize,
              const std::function<void(const std::string&)>& progress) override {
    runtime::create_model(store_, name, modelfile, base_dir, quantize, progress);
  }
  void pull(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
            const std::function<void(const runtime::PullProgress&)>& progress) override {
    runtime::PullOptions options;
    options.insecure = insecure;
    options.cancel = &cancel;
    options.progress = progress;
    runtime::pull_model(store_, runtime::parse_model_name(model), options);
  }
  void push(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
            const std::function<void(const runtime::PullProgress&)>& progress) override {
    runtime::PushOptions options;
    options.insecure = insecure;
    options.cancel = &cancel;
    options.progress = progress;
    runtime::push_model(store_, runtime::parse_model_name(model), options);
  }

 private:
  runtime::ModelStore store_;
};

}  // namespace

std::string server_base_url() {
  const char* env = std::getenv("LOCUS_HOST");
  server::HostPort hp;
  if (env != nullptr && *env != '\0') {
    std::string error;
    const auto parsed = server::parse_host(env, &error);
    if (!parsed) throw std::runtime_error("LOCUS_HOST: " + error);
    hp = *parsed;
  }
  std::string host = hp.host;
  // A server listening on every address is reached on loopback.
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(hp.port);
}

std::unique_ptr<ModelClient> connect_model_client() {
  const std::string base = server_base_url();
  // Any answer to /api/version within a short time means a server is there; a refused connection (nothing
  // listening) fails at once.
  try {
    Curl curl;
    CURL* h = curl.get();
    std::string body;
    std::function<void(std::string_view)> sink = [&](std::string_view chunk) { body.append(chunk); };
    const std::string url = base + "/api/version";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 500L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1500L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_slist* headers = nullptr;
    if (const char* key = std::getenv("LOCUS_API_KEY"); key != nullptr && *key != '\0') {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + std::string(key)).c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }
    const CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      const json j = json::parse(body, nullptr, false);
      // A 401 is a server too (one that wants LOCUS_API_KEY): its error then says so, which the store cannot.
      if ((status == 200 && j.is_object() && j.contains("version")) || status == 401) {
        return std::make_unique<HttpClient>(base);
      }
    }
  } catch (const std::runtime_error&) {
    // No server: the local store.
  }
  return std::make_unique<LocalClient>();
}

}  // namespace locus::cli
