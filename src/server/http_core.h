// The HTTP/1.1 core under `locus serve`: event-driven on Boost.Asio/Beast, so that a connection costs a socket
// and a buffer, not a thread. Only a complete request (header and, for ordinary routes, body) reaches a worker
// thread; idle keep-alive connections, slow senders and half-sent requests wait in the event loop under
// deadlines and never hold a worker.
//
//   HttpCore core(options, check_header, handle);
//   core.bind(&error);       // port 0: any free port
//   std::thread t([&] { core.run(); });   // serves until stop()
//   ...
//   core.stop();             // from any thread; closes every connection, waits for the handlers
//
// Rules for callers:
// - `check_header` runs on an event-loop thread with the header only (Request::body empty): it must not block.
//   It says how the body is read (buffered up to a limit, or streamed by the handler) or answers at once
//   (a refusal such as 413 or 403); a refused request's body is never read and its connection is closed.
// - `handle` runs on a worker thread with one Exchange. It may block (waiting for a model), answers with
//   respond() or with a chunked stream (begin_stream, write, end_stream), and may poll client_gone() while it
//   writes nothing. Writes block the worker until the bytes are with the kernel or the write deadline passes
//   (then the client is taken as gone): a slow reader slows its own stream, nothing else.
// - Deadlines: the request header must arrive within header_timeout of its first byte; a keep-alive
//   connection may sit idle between requests for idle_timeout (a new connection: header_timeout); a buffered
//   body must arrive within body_timeout; a streamed body may pause for at most body_timeout between pieces.
// - Past max_connections open connections, a new one gets 503 and is closed.
// - HEAD is answered as GET without the body (the handler sees method "HEAD").
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locus::server::http {

struct Header {
  std::string name, value;
};

struct Request {
  std::string method;  // as sent: GET, POST, ...
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?', %XX escapes decoded
  int version = 11;    // 10 or 11
  std::vector<Header> headers;
  std::string body;    // the whole body for BodyMode::kBuffered; empty for kStreamed (Exchange::read_body)
  std::string remote_addr;
  int remote_port = 0;

  // Case-insensitive; "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string content_type;  // empty: no Content-Type
  std::string body;

  // Replaces a header of the same name (case-insensitive).
  void set_header(std::string name, std::string value);
  std::string header(std::string_view name) const;
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
};

enum class BodyMode {
  kBuffered,  // read whole, up to body_limit bytes (413 past it), before the handler runs
  kStreamed,  // the handler reads it in pieces (Exchange::read_body), any size
};

struct HeaderDecision {
  BodyMode mode = BodyMode::kBuffered;
  size_t body_limit = 0;            // kBuffered
  std::optional<Response> refusal;  // answer this and close, reading no body
  // For a buffered body over the limit once read (sent chunked, so no Content-Length said so up front).
  std::function<Response()> too_large;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual Request& request() = 0;

  // kStreamed bodies only, at most once: calls `piece` for each piece as it arrives. False when the body
  // could not be read to its end (deadline, the client left, malformed chunking); nothing more can be answered
  // then, and the connection is closed.
  virtual bool read_body(const std::function<void(std::string_view)>& piece) = 0;

  // The whole answer (Content-Length). Once per request, and not after begin_stream().
  virtual void respond(const Response& response) = 0;
  // A chunked answer: the status line and headers now, then write() pieces, then end_stream(). Each returns
  // false when the client is gone or the write deadline passed; then stop writing.
  virtual bool begin_stream(const Response& head) = 0;
  virtual bool write(std::string_view data) = 0;
  virtual bool end_stream() = 0;

  // Whether the client closed or reset the connection (for a handler that writes nothing for a while).
  // A pipelined next request does not count as closed.
  virtual bool client_gone() = 0;
  // Whether the server is stopping.
  virtual bool stopping() const = 0;
  // The status answered so far (0: nothing yet).
  virtual int status() const = 0;
};

struct CoreOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  size_t max_connections = 4096;
  size_t max_header_bytes = 64 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  int io_threads = 2;
  int max_workers = 64;  // handlers running at once; more complete requests wait for one
};

using HeaderCheck = std::function<HeaderDecision(const Request&)>;
using Handler = std::function<void(Exchange&)>;
// Told when a connection was refused (max_connections) or a request could not be read (bad syntax, header
// too large, deadline): for the access log. `request` may be partly filled.
using ConnectionNote = std::function<void(const Request& request, int status, std::string_view what)>;

struct CoreStats {
  size_t open_connections = 0;
  size_t refused_connections = 0;  // past max_connections
  size_t timed_out = 0;            // header, idle or body deadlines
  size_t busy_workers = 0;
};

class HttpCore {
 public:
  HttpCore(CoreOptions options, HeaderCheck check_header, Handler handle, ConnectionNote note = {});
  ~HttpCore();
  HttpCore(const HttpCore&) = delete;
  HttpCore& operator=(const HttpCore&) = delete;

  bool bind(std::string* error);
  int port() const;
  void run();
  void stop();
  CoreStats stats() const;

  struct Impl;  // http_core.cpp's, shared with its connection type

 private:
  std::unique_ptr<Impl> impl_;
};

// "HTTP 404" style reason phrases for the status line.
std::string_view reason_phrase(int status);

}  // namespace locus::server::http
