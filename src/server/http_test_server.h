// The HTTP tests' fake Backend and fixture: a real HttpServer on a loopback port in front of FakeBackend.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace locus::server::testing {

using Json = nlohmann::json;
using namespace std::chrono_literals;

inline GenerationEvent text_event(std::string t) {
  GenerationEvent e;
  e.text = std::move(t);
  return e;
}
inline GenerationEvent done_event() {
  GenerationEvent e;
  e.kind = GenerationEvent::Kind::kDone;
  e.done.prompt_eval_count = 3;
  e.done.eval_count = 2;
  return e;
}

// Behaviour by model name: "hello" answers at once; "slow" writes until cancelled; "fail" errors mid-stream;
// "quiet" waits before answering (pings); "flood" writes 64 KiB pieces until cancelled; "busy" is refused with 503;
// "media" keeps the request (last_media_request) and answers with its media, "image:N audio:N" (kinds and byte
// counts in order), saying input_audio_seconds = audio bytes / 32000 (16 kHz, 16-bit mono); anything else is
// not found.
class FakeBackend final : public Backend {
 public:
  ~FakeBackend() override {
    for (auto& t : threads_) t.join();
  }
  std::shared_ptr<std::atomic<bool>> last_cancel;
  std::optional<ApiRequest> last_media_request;  // guarded by mutex(): the server calls generate() from its workers
  std::mutex& mutex() { return mutex_; }

  StartResult generate(ApiRequest req) override {
    StartResult r;
    if (req.model == "busy") {
      r.error = ApiError{503, "server busy", ""};
      r.retry_after_s = 3;
      return r;
    }
    if (req.model != "hello" && req.model != "slow" && req.model != "fail" && req.model != "quiet" &&
        req.model != "mute" && req.model != "flood" && req.model != "media") {
      r.error = ApiError{404, "model \"" + req.model + "\" not found, try pulling it first", "model"};
      return r;
    }
    r.generation.events = std::make_shared<EventChannel>();
    r.generation.cancel = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard<std::mutex> lock(mutex_);  // the server calls generate() from several threads at once
    last_cancel = r.generation.cancel;
    auto ch = r.generation.events;
    auto cancel = r.generation.cancel;
    const std::string model = req.model;
    if (model == "media") {
      std::string said;
      double audio_seconds = 0;
      for (const MediaInput& m : req.media) {
        const char* kind = m.kind == text::ContentPartKind::kAudio ? "audio"
                           : m.kind == text::ContentPartKind::kVideo ? "video" : "image";
        if (!said.empty()) said += ' ';
        said += kind;
        said += ':';
        said += std::to_string(m.bytes.size());
        if (m.kind == text::ContentPartKind::kAudio) audio_seconds += static_cast<double>(m.bytes.size()) / 32000;
      }
      last_media_request = std::move(req);
      GenerationEvent done = done_event();
      done.done.input_audio_seconds = audio_seconds;
      ch->push(text_event(said));
      ch->push(std::move(done));
      return r;
    }
    threads_.emplace_back([ch, cancel, model] {
      if (model == "quiet") std::this_thread::sleep_for(700ms);
      if (model == "flood") {  // 64 KiB pieces as fast as they can go, until cancelled
        const std::string piece(64 * 1024, 'x');
        for (int i = 0; i < 20000 && !cancel->load(); ++i) {
          ch->push(text_event(piece));
          std::this_thread::sleep_for(1ms);
        }
        ch->push(done_event());
        return;
      }
      if (model == "slow" || model == "mute") {
        while (!cancel->load()) {
          if (model == "slow") ch->push(text_event("tick "));
          std::this_thread::sleep_for(20ms);
        }
        ch->push(done_event());
        return;
      }
      ch->push(text_event("Hel"));
      ch->push(text_event("lo"));
      if (model == "fail") {
        GenerationEvent e;
        e.kind = GenerationEvent::Kind::kError;
        e.text = "the model broke";
        ch->push(e);
        return;
      }
      ch->push(done_event());
    });
    return r;
  }
  JsonReply tags() override {
    JsonReply r;
    r.body = {{"models", nlohmann::ordered_json::array()}};
    return r;
  }
  JsonReply show(const std::string& model, bool) override { return not_found(model); }
  JsonReply ps() override { return tags(); }
  JsonReply remove(const std::string& model) override { return not_found(model); }
  JsonReply copy(const std::string& s, const std::string&) override { return not_found(s); }
  JsonReply openai_models() override {
    JsonReply r;
    r.body = {{"object", "list"}, {"data", nlohmann::ordered_json::array()}};
    return r;
  }
  JsonReply openai_model(const std::string& model) override { return not_found(model); }
  // Pull by name: "good" sends two lines and success; "missing" fails before any line (404); "broken" fails
  // after two lines; "endless" sends lines until cancelled (and records it).
  JsonReply pull(const std::string& model, bool, const std::function<void(const nlohmann::json&)>& on_line,
                 const std::atomic<bool>& cancel) override {
    JsonReply r;
    if (model == "missing") {
      r.error = ApiError{404, "pull model manifest: file does not exist", "model"};
      return r;
    }
    on_line({{"status", "pulling manifest"}});
    on_line({{"status", "pulling 0123456789ab"}, {"digest", "sha256:0123"}, {"total", 10}, {"completed", 10}});
    if (model == "broken") {
      r.error = ApiError{502, "the registry went away", ""};
      return r;
    }
    if (model == "endless") {
      while (!cancel.load()) {
        on_line({{"status", "pulling 0123456789ab"}});
        std::this_thread::sleep_for(20ms);
      }
      pull_cancelled = true;
      r.error = ApiError{499, "cancelled", ""};
      return r;
    }
    on_line({{"status", "success"}});
    return r;
  }
  std::atomic<bool> pull_cancelled{false};
  void cancel_all() override {}

 private:
  static JsonReply not_found(const std::string& model) {
    JsonReply r;
    r.error = ApiError{404, "model \"" + model + "\" not found", "model"};
    return r;
  }
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start() { start(ServeOptions()); }
  void start(const ServeOptions& options) {
    ServeOptions o = options;
    o.listen.port = 0;
    o.ping_interval = 200ms;
    o.version = "9.9.9";
    server_ = std::make_unique<HttpServer>(backend_, o);
    std::string err;
    ASSERT_TRUE(server_->bind(&err)) << err;
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result post(const std::string& path, const Json& body, const httplib::Headers& h = {}) {
    return client_->Post(path.c_str(), h, body.dump(), "application/json");
  }

  FakeBackend backend_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace locus::server::testing
