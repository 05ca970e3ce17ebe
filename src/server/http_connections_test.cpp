// Connections, not routes: idle, half-sent and slow-dripping connections never starve complete requests; the
// header, body and idle deadlines close them; the connection bound refuses past it; DNS-rebinding Host names
// are refused on a loopback server; Expect: 100-continue and pipelined requests are served.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "server/http_test_server.h"

namespace locus::server {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

// A raw loopback connection.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  bool ok() const { return ok_; }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // Everything the server sends until it closes or `wait` passes.
  std::string read_until_closed(std::chrono::milliseconds wait, bool* closed = nullptr) {
    std::string out;
    const auto end = Clock::now() + wait;
    bool eof = false;
    while (Clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
      if (::poll(&p, 1, std::max(1, left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    if (closed) *closed = eof;
    return out;
  }
  // Reads until `needle` has arrived (or the server closed, or `wait` passed).
  std::string read_until(const std::string& needle, std::chrono::milliseconds wait) {
    std::string out;
    const auto end = Clock::now() + wait;
    while (Clock::now() < end && out.find(needle) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string chat_body(const std::string& model, bool stream) {
  return Json{{"model", model}, {"stream", stream}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump();
}

class ConnectionsTest : public HttpServerTest {};

// Hundreds of connections that send nothing, half a header or a few body bytes, and some that drip a byte at a
// time: every worker of a thread-per-connection server would sit on them. Complete requests must still be
// answered, streams included.
TEST_F(ConnectionsTest, IdleAndSlowConnectionsDoNotStarveRequests) {
  start();
  const int port = server_->port();
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 600; ++i) {
    auto c = std::make_unique<Raw>(port);
    ASSERT_TRUE(c->ok()) << i;
    switch (i % 4) {
      case 0: break;  // connected, silent
      case 1: c->send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"); break;  // half a header
      case 2:  // a header promising a body that never comes
        c->send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"model\":");
        break;
      case 3: c->send("G"); break;  // a drip
    }
    idle.push_back(std::move(c));
  }
  client_->set_connection_timeout(5, 0);
  client_->set_read_timeout(5, 0);
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 3; i < idle.size(); i += 4) idle[i]->send("E");  // the drips go on
    auto r = client_->Get("/api/version");
    ASSERT_TRUE(r) << "round " << round << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    r = client_->Post("/api/chat", chat_body("hello", true), "application/json");
    ASSERT_TRUE(r) << "round " << round;
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("\"done\":true"), std::string::npos) << r->body;
  }
  // Many requests at once from other clients, while the idle ones still wait.
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(10, 0);
      auto r = i % 2 ? c.Get("/api/version") : c.Post("/api/chat", chat_body("hello", i % 4 == 0), "application/json");
      if (r && r->status == 200) answered.fetch_add(1);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 16);
}

TEST_F(ConnectionsTest, DeadlinesCloseSilentHalfSentAndSlowConnections) {
  ServeOptions o;
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
  o.idle_timeout = 600ms;
  start(o);
  const int port = server_->port();
  Raw silent(port), half(port), body(port), drip(port);
  ASSERT_TRUE(silent.ok() && half.ok() && body.ok() && drip.ok());
  half.send("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  body.send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"model\":");
  // A byte every 100 ms keeps each read short, but the header as a whole is due 300 ms after its first byte.
  const auto start_drip = Clock::now();
  const std::string header = "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  bool drip_open = true;
  for (size_t i = 0; i < header.size() - 2 && drip_open; ++i) {
    drip_open = drip.send(header.substr(i, 1));
    std::this_thread::sleep_for(100ms);
    if (Clock::now() - start_drip > 3s) break;
  }
  bool closed = false;
  drip.read_until_closed(2s, &closed);
  EXPECT_TRUE(closed) << "the drip connection stayed open";
  for (Raw* c : {&silent, &half, &body}) {
    closed = false;
    c->read_until_closed(3s, &closed);
    EXPECT_TRUE(closed);
  }
  // A keep-alive connection: answered, then closed after the idle deadline.
  Raw keep(port);
  ASSERT_TRUE(keep.send("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  closed = false;
  const std::string got = keep.read_until_closed(3s, &closed);
  EXPECT_NE(got.find("9.9.9"), std::string::npos) << got;
  EXPECT_TRUE(closed);
}

TEST_F(ConnectionsTest, ConnectionsPastTheLimitAreRefusedWith503) {
  ServeOptions o;
  o.max_connections = 8;
  start(o);
  const int port = server_->port();
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<Raw>(port));
    ASSERT_TRUE(held.back()->ok());
  }
  std::this_thread::sleep_for(200ms);  // all eight accepted
  Raw extra(port);
  ASSERT_TRUE(extra.ok());
  bool closed = false;
  const std::string got = extra.read_until_closed(3s, &closed);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  EXPECT_NE(got.find("LOCUS_MAX_CONNECTIONS"), std::string::npos) << got;
  EXPECT_TRUE(closed);
  // Once some close, new connections are served again.
  held.clear();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    std::this_thread::sleep_for(20ms);
    auto r = httplib::Client("127.0.0.1", port).Get("/api/version");
    served = r && r->status == 200;
  }
  EXPECT_TRUE(served);
  auto r = client_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("locus_http_refused_connections_total 1\n"), std::string::npos) << r->body;
}

TEST_F(ConnectionsTest, ForeignHostNamesAreRefusedOnLoopback) {
  start();
  const std::string port = std::to_string(server_->port());
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "evil.example", "127.0.0.1.nip.example:" + port}) {
    auto r = client_->Get("/api/tags", {{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 403) << host;
    EXPECT_NE(Json::parse(r->body)["error"].get<std::string>().find("LOCUS_ALLOWED_HOSTS"), std::string::npos);
    r = client_->Get("/v1/models", {{"Host", host}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_TRUE(Json::parse(r->body)["error"]["message"].is_string()) << r->body;
    r = client_->Post("/api/chat", {{"Host", host}}, chat_body("hello", false), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
  }
  for (const std::string& host : std::vector<std::string>{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "localhost"}) {
    auto r = client_->Get("/api/tags", {{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 200) << host;
  }
}

TEST_F(ConnectionsTest, AllowedHostsLetOtherNamesIn) {
  ServeOptions o;
  o.allowed_hosts = {"models.example"};
  start(o);
  auto r = client_->Get("/api/tags", {{"Host", "models.example:" + std::to_string(server_->port())}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Get("/api/tags", {{"Host", "evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

TEST_F(ConnectionsTest, ExpectContinueAndPipelinedRequests) {
  start();
  const int port = server_->port();
  Raw c(port);
  ASSERT_TRUE(c.ok());
  const std::string body = chat_body("hello", false);
  c.send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  const std::string cont = c.read_until("\r\n\r\n", 3s);
  EXPECT_TRUE(cont.starts_with("HTTP/1.1 100 Continue")) << cont;
  c.send(body);
  std::string got = c.read_until("\"done\":true", 5s);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  // Two requests in one write: two answers, in order, on the same connection.
  c.send("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  got = c.read_until("\"models\"", 5s);
  const size_t first = got.find("9.9.9"), second = got.find("\"models\"");
  EXPECT_NE(first, std::string::npos) << got;
  EXPECT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

TEST_F(ConnectionsTest, MalformedRequestsGet400AndHugeHeaders431) {
  start();
  const int port = server_->port();
  {
    Raw c(port);
    c.send("THIS IS NOT HTTP\r\n\r\n");
    const std::string got = c.read_until_closed(3s);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << got;
  }
  {
    Raw c(port);
    c.send("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(100'000, 'a') + "\r\n\r\n");
    const std::string got = c.read_until_closed(3s);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 431")) << got;
  }
  {
    Raw c(port);  // a chunked body with a bad chunk size
    c.send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n");
    bool closed = false;
    c.read_until_closed(3s, &closed);
    EXPECT_TRUE(closed);
  }
  // The server still answers.
  auto r = client_->Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ConnectionsTest, PercentEscapesInPathsAreDecoded) {
  start();
  auto r = client_->Get("/api/ver%73ion");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Get("/v1/models/hello%3Alatest");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("hello:latest"), std::string::npos) << r->body;
  r = client_->Get("/v1/models/a%zz");  // not an escape: left as it is
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("a%zz"), std::string::npos) << r->body;
}

// A client that stops reading a stream: the write deadline ends it and frees the generation.
TEST_F(ConnectionsTest, AReaderThatStopsReadingIsDroppedAtTheWriteDeadline) {
  ServeOptions o;
  o.write_timeout = 300ms;
  start(o);
  Raw c(server_->port());
  const std::string body = chat_body("flood", true);
  c.send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  for (int i = 0; i < 200 && !backend_.last_cancel; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(backend_.last_cancel);
  for (int i = 0; i < 1000 && !backend_.last_cancel->load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(backend_.last_cancel->load()) << "the stream to a client that does not read was never ended";
  auto r = client_->Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace locus::server
