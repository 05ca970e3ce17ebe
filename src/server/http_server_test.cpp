// The HTTP layer against a fake Backend, over real loopback sockets: routes, envelopes, auth, CORS, limits,
// streaming (NDJSON, SSE with pings, errors mid-stream) and cancellation when the client goes away.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "server/http_test_server.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

namespace locus::server {
namespace {

using namespace testing;

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
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
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
