// The HTTP layer against a fake Backend, over real loopback sockets: routes, envelopes, auth, CORS, limits,
// streaming (NDJSON, SSE with pings, errors mid-stream) and cancellation when the client goes away.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

namespace locus::server {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

GenerationEvent text_event(std::string t) {
  GenerationEvent e;
  e.text = std::move(t);
  return e;
}
GenerationEvent done_event() {
  GenerationEvent e;
  e.kind = GenerationEvent::Kind::kDone;
  e.done.prompt_eval_count = 3;
  e.done.eval_count = 2;
  return e;
}

// Behaviour by model name: "hello" answers at once; "slow" writes until cancelled; "fail" errors mid-stream;
// "quiet" waits before answering (pings); "busy" is refused with 503; anything else is not found.
class FakeBackend final : public Backend {
 public:
  ~FakeBackend() override {
    for (auto& t : threads_) t.join();
  }
  std::shared_ptr<std::atomic<bool>> last_cancel;

  StartResult generate(ApiRequest req) override {
    StartResult r;
    if (req.model == "busy") {
      r.error = ApiError{503, "server busy", ""};
      r.retry_after_s = 3;
      return r;
    }
    if (req.model != "hello" && req.model != "slow" && req.model != "fail" && req.model != "quiet" &&
        req.model != "mute") {
      r.error = ApiError{404, "model \"" + req.model + "\" not found, try pulling it first", "model"};
      return r;
    }
    r.generation.events = std::make_shared<EventChannel>();
    r.generation.cancel = std::make_shared<std::atomic<bool>>(false);
    last_cancel = r.generation.cancel;
    auto ch = r.generation.events;
    auto cancel = r.generation.cancel;
    const std::string model = req.model;
    threads_.emplace_back([ch, cancel, model] {
      if (model == "quiet") std::this_thread::sleep_for(700ms);
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

TEST_F(HttpServerTest, LivenessAndVersion) {
  start();
  auto r = client_->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Ollama is running");
  r = client_->Head("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body)["version"], "9.9.9");
}

TEST_F(HttpServerTest, UnknownPathsUseTheirApisEnvelope) {
  start();
  auto r = client_->Get("/api/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = client_->Get("/v1/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body)["error"]["message"].is_string());
}

TEST_F(HttpServerTest, ApiKey) {
  ServeOptions o;
  o.api_key = "k1";
  start(o);
  auto r = client_->Get("/api/tags");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = client_->Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "authentication_error");
  r = client_->Get("/v1/models", {{"Authorization", "Bearer k1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = post("/api/chat", {{"model", "hello"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"stream", false}},
           {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client_->Get("/");  // the liveness probe stays open
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, Cors) {
  start();
  auto r = client_->Options("/api/chat", {{"Origin", "http://localhost:3000"},
                                          {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  r = client_->Options("/api/chat", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = client_->Get("/api/tags", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = client_->Get("/api/tags", {{"Origin", "http://127.0.0.1:5173"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:5173");
}

TEST_F(HttpServerTest, BodyLimit) {
  ServeOptions o;
  o.max_request_bytes = 1000;
  start(o);
  auto r = post("/api/chat", {{"model", std::string(2000, 'x')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = post("/v1/chat/completions", {{"model", std::string(2000, 'x')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(Json::parse(r->body)["error"]["message"].is_string());
  // Sent chunked, without a Content-Length: refused once read.
  const std::string big = Json{{"model", std::string(2000, 'x')}}.dump();
  r = client_->Post("/api/chat", [&](size_t, httplib::DataSink& sink) {
    sink.write(big.data(), big.size());
    sink.done();
    return true;
  }, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_NE(r->body.find("LOCUS_MAX_REQUEST_BYTES"), std::string::npos) << r->body;
}

TEST_F(HttpServerTest, BadRequests) {
  start();
  auto r = client_->Post("/api/chat", "{not json", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = post("/api/chat", {{"model", "nope"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(Json::parse(r->body)["error"].get<std::string>().find("not found"), std::string::npos);
  r = post("/v1/chat/completions", {{"model", "busy"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "3");
}

TEST_F(HttpServerTest, OllamaChat) {
  start();
  const Json req = {{"model", "hello"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  Json body = req;
  body["stream"] = false;
  auto r = post("/api/chat", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Locus-Route"), "local");
  Json j = Json::parse(r->body);
  EXPECT_EQ(j["message"]["content"], "Hello");
  EXPECT_EQ(j["done"], true);

  r = post("/api/chat", req);  // stream defaults to true
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::istringstream lines(r->body);
  std::string line, content;
  Json last;
  while (std::getline(lines, line)) {
    last = Json::parse(line);
    content += last["message"]["content"].get<std::string>();
  }
  EXPECT_EQ(content, "Hello");
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["eval_count"], 2);
}

TEST_F(HttpServerTest, MetricsCountWrittenChunks) {
  ServeOptions o;
  o.api_key = "k1";
  start(o);
  const httplib::Headers auth = {{"Authorization", "Bearer k1"}};
  auto r = client_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);  // the key guards it like any route
  r = post("/api/chat", {{"model", "hello"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}, auth);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  r = client_->Get("/metrics", auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4")) << r->get_header_value("Content-Type");
  EXPECT_NE(r->body.find("# TYPE locus_http_chunks_written_total counter\n"), std::string::npos) << r->body;
  // (open_streams may still count the stream: the server finishes it after the client has read its end.)
  EXPECT_NE(r->body.find("# TYPE locus_open_streams gauge\n"), std::string::npos) << r->body;
  // The fake's stream: at least one chunk written, and its writing timed.
  const auto value = [&](const std::string& name) {
    const size_t at = r->body.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name;
    return at == std::string::npos ? -1.0 : std::stod(r->body.substr(at + name.size() + 2));
  };
  EXPECT_GE(value("locus_http_chunks_written_total"), 1.0);
  EXPECT_GT(value("locus_http_write_seconds_total"), 0.0);
  EXPECT_EQ(backend_.metrics().chunks_written.load(), static_cast<uint64_t>(value("locus_http_chunks_written_total")));
}

TEST_F(HttpServerTest, OpenAiStreamWithPingsEndsWithDone) {
  start();
  auto r = post("/v1/chat/completions",
                {{"model", "quiet"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(r->body.find(": ping\n\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"content\":\"Hel\""), std::string::npos) << r->body;
  EXPECT_TRUE(r->body.ends_with("data: [DONE]\n\n")) << r->body;
}

TEST_F(HttpServerTest, FailureAfterStreamingBeganEndsWithAnErrorLine) {
  start();
  auto r = post("/api/chat", {{"model", "fail"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const std::string last = r->body.substr(r->body.rfind('\n', r->body.size() - 2) + 1);
  EXPECT_EQ(Json::parse(last)["error"], "the model broke");
  r = post("/api/chat",
           {{"model", "fail"}, {"stream", false}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(Json::parse(r->body)["error"], "the model broke");
}

// Opens a raw connection, sends a chat request for `model`, reads the start of the answer (read_some) or just
// waits a moment, and closes.
void send_and_leave(int port, const std::string& path, const std::string& body, bool read_some);

void request_and_leave(int port, const std::string& model, bool read_some) {
  send_and_leave(port, "/api/chat", Json{{"model", model}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump(),
                 read_some);
}

void send_and_leave(int port, const std::string& path, const std::string& body, bool read_some) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  char buf[512];
  if (read_some) {
    ASSERT_GT(::read(fd, buf, sizeof buf), 0);  // the stream began
  } else {
    std::this_thread::sleep_for(300ms);  // the request reached the backend
  }
  ::close(fd);
}

TEST_F(HttpServerTest, ClientDisconnectCancelsTheGeneration) {
  start();
  request_and_leave(server_->port(), "slow", true);
  ASSERT_TRUE(backend_.last_cancel);
  for (int i = 0; i < 200 && !backend_.last_cancel->load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(backend_.last_cancel->load());
}

// Nothing is written (prompt evaluation, held-back text), so no write can fail: the socket itself is watched.
TEST_F(HttpServerTest, DisconnectDuringASilentNdjsonStreamCancels) {
  start();
  request_and_leave(server_->port(), "mute", false);
  ASSERT_TRUE(backend_.last_cancel);
  for (int i = 0; i < 300 && !backend_.last_cancel->load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(backend_.last_cancel->load());
}

TEST_F(HttpServerTest, PullStreamsProgressAndEndsOnSuccess) {
  start();
  auto r = post("/api/pull", {{"name", "good"}});  // ollama-js sends `name`
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::istringstream lines(r->body);
  std::vector<Json> got;
  for (std::string l; std::getline(lines, l);) got.push_back(Json::parse(l));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]["status"], "pulling manifest");
  EXPECT_EQ(got[1]["total"], 10);
  EXPECT_EQ(got[2]["status"], "success");

  r = post("/api/pull", {{"model", "good"}, {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body), Json({{"status", "success"}}));
}

TEST_F(HttpServerTest, PullErrorsBeforeAndAfterStreaming) {
  start();
  // Nothing useful was sent yet: the HTTP status says what went wrong.
  auto r = post("/api/pull", {{"model", "missing"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = post("/api/pull", {{"model", "missing"}, {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // After progress lines: a 200 stream whose last line is the error.
  r = post("/api/pull", {{"model", "broken"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const std::string last = r->body.substr(r->body.rfind('\n', r->body.size() - 2) + 1);
  EXPECT_EQ(Json::parse(last)["error"], "the registry went away");
  r = post("/api/pull", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpServerTest, PullIsCancelledWhenTheClientLeaves) {
  start();
  send_and_leave(server_->port(), "/api/pull", Json{{"model", "endless"}}.dump(), true);
  for (int i = 0; i < 100 && !backend_.pull_cancelled.load(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(backend_.pull_cancelled.load());
}

TEST_F(HttpServerTest, EmbedAndCreateWithoutBackendSupportAre501) {
  start();
  auto r = post("/api/embed", {{"model", "hello"}, {"input", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  r = post("/v1/embeddings", {{"model", "hello"}, {"input", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_TRUE(Json::parse(r->body)["error"]["message"].is_string());
  r = post("/api/embed", {{"model", "hello"}, {"input", Json::array()}});  // parsed before the backend
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = post("/api/create", {{"model", "m"}, {"from", "hello"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_EQ(Json::parse(r->body)["error"], "create is not available in this build yet");
}

}  // namespace
}  // namespace locus::server
