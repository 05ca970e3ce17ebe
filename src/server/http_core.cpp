#include "server/http_core.h"

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <strings.h>
#include <thread>
#include <unordered_map>

#include "server/peer_socket.h"

namespace locus::server::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Threads for complete requests, made as they are needed (up to `max`) and kept: a handler may block for the
// length of an answer, and requests that are still arriving never get here.
class WorkerPool {
 public:
  explicit WorkerPool(size_t max) : max_(std::max<size_t>(1, max)) {}
  ~WorkerPool() { shutdown(); }

  void submit(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
    if (queue_.size() > idle_ && threads_.size() < max_) {
      threads_.emplace_back([this] { loop(); });
    } else {
      wake_.notify_one();
    }
  }
  size_t busy() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return busy_;
  }
  // True once nothing runs or waits, false at the deadline.
  bool wait_idle(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return drained_.wait_until(lock, deadline, [this] { return busy_ == 0 && queue_.empty(); });
  }
  // Runs what is queued, then joins every thread.
  void shutdown() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
      wake_.notify_all();
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return quit_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // quit
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      task();
      task = nullptr;  // what it holds (the connection) goes before the pool counts it done
      lock.lock();
      --busy_;
      if (busy_ == 0 && queue_.empty()) drained_.notify_all();
    }
  }

  const size_t max_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0, busy_ = 0;
  bool quit_ = false;
};

std::string simple_body_response(int status, std::string_view json) {
  std::string s = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  s += "Content-Type: application/json\r\nContent-Length: " + std::to_string(json.size()) +
       "\r\nConnection: close\r\n";
  if (status == 503) s += "Retry-After: 1\r\n";
  s += "\r\n";
  s += json;
  return s;
}

// %XX escapes in a path decoded, as clients expect of a path (`/v1/models/tiny%3Alatest`); a '%' not followed
// by two hex digits stays as it is.
std::string percent_decode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

bool Request::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, name); });
}

void Response::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
}

std::string Response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

std::string_view reason_phrase(int status) {
  const auto s = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return s.empty() ? std::string_view("Unknown") : std::string_view(s.data(), s.size());
}

class Connection;

struct HttpCore::Impl {
  CoreOptions o;
  HeaderCheck check_header;
  Handler handle;
  ConnectionNote note;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<bool> io_stopped{false};
  std::atomic<size_t> open{0}, refused{0}, timed_out{0};
  std::mutex conns_mutex;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns;
  WorkerPool pool;
  std::mutex run_mutex;
  // Declared last but one: destroyed after the acceptor and before everything above, so that the handlers it
  // still holds (and the connections they keep alive) go while the registry and counters exist.
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};

  Impl(CoreOptions options, HeaderCheck c, Handler h, ConnectionNote n)
      : o(std::move(options)), check_header(std::move(c)), handle(std::move(h)), note(std::move(n)),
        pool(static_cast<size_t>(std::max(1, o.max_workers))) {}

  void accept_next();
  void refuse(tcp::socket socket);
};

// One TCP connection: its requests one after the other (a pipelined request waits in the buffer). Event-loop
// code runs on the connection's strand; a handler's calls (Exchange) run on a worker and wait for the
// operation they post to the strand. Between the two no operation is outstanding, so the socket is never used
// by both at once.
class Connection final : public Exchange, public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpCore::Impl& core, tcp::socket socket) : core_(core), stream_(std::move(socket)) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_addr_ = ep.address().to_string();
      remote_port_ = ep.port();
    }
    core_.open.fetch_add(1);
  }
  ~Connection() override {
    core_.open.fetch_sub(1);
    std::lock_guard<std::mutex> lock(core_.conns_mutex);
    core_.conns.erase(this);
  }

  void start() {
    {
      std::lock_guard<std::mutex> lock(core_.conns_mutex);
      core_.conns[this] = weak_from_this();
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_request(); });
  }

  // From stop(): ends whatever the connection is doing; a waiting handler's operation fails.
  void shut() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

  // ---- Exchange (worker thread) ----
  Request& request() override { return req_; }

  bool read_body(const std::function<void(std::string_view)>& piece) override {
    if (body_started_ || decision_.mode != BodyMode::kStreamed) return false;
    body_started_ = true;
    if (!send_continue()) return false;
    ensure_piece_buffer();
    while (!parser_->is_done()) {
      size_t got = 0;
      const bool ok = sync([&](auto done) {
        stream_.expires_after(core_.o.body_timeout);
        auto& body = parser_->get().body();
        body.data = piece_.get();
        body.size = kPieceBytes;
        body.more = true;
        bhttp::async_read_some(stream_, buffer_, *parser_,
                               [done](beast::error_code ec, size_t) {
                                 if (ec == bhttp::error::need_buffer) ec = {};
                                 done(ec);
                               });
      }, &got);
      if (got > 0) piece(std::string_view(piece_.get(), got));
      if (!ok) {
        close_after_ = true;
        return false;
      }
    }
    return true;
  }

  void respond(const Response& r) override {
    if (status_ != 0) return;
    status_ = r.status;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), req_.version};
    for (const auto& h : r.headers) res.set(h.name, h.value);
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    if (!no_body) {
      if (req_.method == "HEAD") {
        res.content_length(r.body.size());
      } else {
        res.body() = r.body;
        res.prepare_payload();
      }
    }
    res.keep_alive(keep_alive());
    if (!sync([&](auto done) {
          stream_.expires_after(core_.o.write_timeout);
          bhttp::async_write(stream_, res, [done](beast::error_code ec, size_t) { done(ec); });
        })) {
      close_after_ = true;
    }
  }

  bool begin_stream(const Response& head) override {
    if (status_ != 0) return false;
    status_ = head.status;
    streaming_ = true;
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(head.status), req_.version};
    for (const auto& h : head.headers) res.set(h.name, h.value);
    if (!head.content_type.empty()) res.set(bhttp::field::content_type, head.content_type);
    // HTTP/1.0 has no chunked encoding: the body runs to the end of the connection.
    chunked_ = req_.version >= 11;
    if (chunked_) {
      res.chunked(true);
    } else {
      close_after_ = true;
    }
    res.keep_alive(keep_alive());
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    const bool ok = sync([&](auto done) {
      stream_.expires_after(core_.o.write_timeout);
      bhttp::async_write_header(stream_, sr, [done](beast::error_code ec, size_t) { done(ec); });
    });
    if (!ok) fail_stream();
    return ok;
  }

  bool write(std::string_view data) override {
    if (!streaming_ || stream_failed_) return false;
    if (data.empty()) return true;
    const auto buf = asio::const_buffer(data.data(), data.size());
    const bool ok = sync([&](auto done) {
      stream_.expires_after(core_.o.write_timeout);
      const auto cb = [done](beast::error_code ec, size_t) { done(ec); };
      if (chunked_) {
        asio::async_write(stream_, bhttp::make_chunk(buf), cb);
      } else {
        asio::async_write(stream_, buf, cb);
      }
    });
    if (!ok) fail_stream();
    return ok;
  }

  bool end_stream() override {
    if (!streaming_ || stream_failed_ || stream_ended_) return false;
    stream_ended_ = true;
    if (!chunked_) return true;
    const bool ok = sync([&](auto done) {
      stream_.expires_after(core_.o.write_timeout);
      asio::async_write(stream_, bhttp::make_chunk_last(), [done](beast::error_code ec, size_t) { done(ec); });
    });
    if (!ok) fail_stream();
    return ok;
  }

  bool client_gone() override {
    if (core_.stopping.load()) return true;
    return peer_closed(stream_.socket().native_handle());
  }
  bool stopping() const override { return core_.stopping.load(); }
  int status() const override { return status_; }

 private:
  static constexpr size_t kPieceBytes = 16 * 1024;

  // Posts `start` to the strand and waits until the operation it starts calls `done`; false on an error.
  template <class Start>
  bool sync(Start&& start, size_t* body_got = nullptr) {
    {
      std::lock_guard<std::mutex> lock(op_mutex_);
      op_done_ = false;
      op_error_ = {};
    }
    auto self = shared_from_this();
    asio::post(stream_.get_executor(), [this, self, &start] {
      start([this, self](beast::error_code ec) {
        std::lock_guard<std::mutex> lock(op_mutex_);
        op_error_ = ec;
        op_done_ = true;
        op_cv_.notify_one();
      });
    });
    std::unique_lock<std::mutex> lock(op_mutex_);
    // The event loop runs until every handler has returned (stop() waits for them), so the operation finishes;
    // the check of io_stopped covers a handler that outlived stop()'s wait.
    while (!op_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return op_done_; })) {
      if (core_.io_stopped.load()) return false;
    }
    if (body_got) *body_got = kPieceBytes - parser_->get().body().size;
    return !op_error_;
  }

  bool keep_alive() const {
    return parser_ && parser_->get().keep_alive() && !close_after_ && !core_.stopping.load();
  }

  void fail_stream() {
    stream_failed_ = true;
    close_after_ = true;
  }

  void ensure_piece_buffer() {
    if (!piece_) piece_ = std::make_unique<char[]>(kPieceBytes);
  }

  bool send_continue() {
    if (parser_->is_done() || !iequals(req_.header("Expect"), "100-continue") || req_.version < 11) return true;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    return sync([&](auto done) {
      stream_.expires_after(core_.o.write_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [done](beast::error_code ec, size_t) { done(ec); });
    });
  }

  // ---- event loop (strand) ----
  void wait_request() {
    if (core_.stopping.load()) return linger_close();
    req_ = Request{};
    req_.remote_addr = remote_addr_;
    req_.remote_port = remote_port_;
    status_ = 0;
    streaming_ = chunked_ = stream_failed_ = stream_ended_ = close_after_ = body_started_ = false;
    parser_.reset();
    if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
    // Waiting for the first byte: an idle keep-alive connection may wait longer than a new one.
    stream_.expires_after(first_ ? core_.o.header_timeout : core_.o.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) {
        if (ec == beast::error::timeout) {
          if (self->first_) self->note_failure(408, "no request before the header deadline");
          self->core_.timed_out.fetch_add(1);
        }
        return self->close_now();
      }
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_.o.max_header_bytes));
    // Limits are the route's (HeaderDecision), checked as the body arrives. (Not boost::none: Boost 1.74's parser
    // compares a Content-Length with the optional itself, and every number is greater than none.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(core_.o.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        core_.timed_out.fetch_add(1);
        note_failure(408, "the request header did not arrive within the header deadline");
        return close_now();
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted || ec == bhttp::error::partial_message) {
        return close_now();
      }
      const int status = ec == bhttp::error::header_limit ? 431 : 400;
      const std::string what = status == 431 ? "request header larger than " + std::to_string(core_.o.max_header_bytes) +
                                                   " bytes"
                                             : "malformed HTTP request: " + ec.message();
      note_failure(status, what);
      return refuse_and_close(status, what);
    }
    first_ = false;
    const auto& h = parser_->get();
    req_.method = std::string(h.method_string());
    req_.target = std::string(h.target());
    req_.path = percent_decode(req_.target.substr(0, req_.target.find('?')));
    req_.version = h.version() >= 11 ? 11 : 10;
    for (const auto& f : h) req_.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    decision_ = core_.check_header(req_);
    if (decision_.refusal) {
      close_after_ = true;
      return write_refusal(std::move(*decision_.refusal));
    }
    if (decision_.mode == BodyMode::kStreamed) return dispatch();
    if (parser_->is_done()) return dispatch();
    // A buffered body: all of it within body_timeout.
    stream_.expires_after(core_.o.body_timeout);
    if (iequals(req_.header("Expect"), "100-continue") && req_.version >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code e, size_t) {
                          if (e) return self->close_now();
                          self->read_buffered_body();
                        });
      return;
    }
    read_buffered_body();
  }

  void read_buffered_body() {
    ensure_piece_buffer();
    auto& body = parser_->get().body();
    body.data = piece_.get();
    body.size = kPieceBytes;
    body.more = true;
    bhttp::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        if (ec == beast::error::timeout) {
          self->core_.timed_out.fetch_add(1);
          self->note_failure(408, "the request body did not arrive within the body deadline");
        }
        return self->close_now();
      }
      const size_t got = kPieceBytes - self->parser_->get().body().size;
      // Over the limit (a body sent chunked): the rest is read and dropped, so that the answer reaches a client
      // that is still sending rather than a reset connection.
      if (!self->too_large_) {
        self->req_.body.append(self->piece_.get(), got);
        if (self->req_.body.size() > self->decision_.body_limit) {
          self->too_large_ = true;
          self->req_.body.clear();
          self->req_.body.shrink_to_fit();
        }
      }
      if (!self->parser_->is_done()) return self->read_buffered_body();
      if (self->too_large_) {
        self->too_large_ = false;
        self->close_after_ = true;
        Response r = self->decision_.too_large ? self->decision_.too_large() : Response{413, {}, "", ""};
        return self->write_refusal(std::move(r));
      }
      self->dispatch();
    });
  }

  void dispatch() {
    core_.pool.submit([self = shared_from_this()] { self->run_handler(); });
  }

  // Worker thread: the route, then the next request (or the end of the connection) back on the strand.
  void run_handler() {
    try {
      core_.handle(*this);
    } catch (const std::exception& e) {
      if (status_ == 0) respond(Response{500, {}, "application/json",
                                         std::string("{\"error\":\"internal error\"}")});
      std::fprintf(stderr, "locus: request handler failed: %s\n", e.what());
    }
    if (status_ == 0) respond(Response{500, {}, "application/json", "{\"error\":\"the route gave no answer\"}"});
    if (streaming_ && !stream_ended_ && !stream_failed_) end_stream();
    // The next request can be read only when this one's body was read to its end.
    const bool next = keep_alive() && parser_->is_done() && !stream_failed_;
    asio::post(stream_.get_executor(), [self = shared_from_this(), next] {
      if (next) {
        self->wait_request();
      } else {
        self->linger_close();
      }
    });
  }

  void write_refusal(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), req_.version);
    for (const auto& h : r.headers) res->set(h.name, h.value);
    if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
    res->body() = std::move(r.body);
    res->prepare_payload();
    res->keep_alive(false);
    stream_.expires_after(core_.o.write_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      self->linger_close();
    });
  }

  void refuse_and_close(int status, const std::string& what) {
    const std::string json = "{\"error\":\"" + what + "\"}";
    auto text = std::make_shared<std::string>(simple_body_response(status, json));
    stream_.expires_after(core_.o.write_timeout);
    asio::async_write(stream_, asio::buffer(*text), [self = shared_from_this(), text](beast::error_code, size_t) {
      self->linger_close();
    });
  }

  // Closes after the answer: stop sending, then read and drop what the client still sends for a moment, so
  // that unread request bytes do not turn the close into a reset that loses the answer.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    ensure_piece_buffer();
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(piece_.get(), kPieceBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->close_now();
                              self->drain();
                            });
  }

  void close_now() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  void note_failure(int status, std::string_view what) {
    if (core_.note) core_.note(req_, status, what);
  }

  HttpCore::Impl& core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<char[]> piece_;  // made when a body is first read
  std::string remote_addr_;
  int remote_port_ = 0;
  Request req_;
  HeaderDecision decision_;
  bool first_ = true;
  bool too_large_ = false;
  int status_ = 0;
  bool streaming_ = false, chunked_ = false, stream_failed_ = false, stream_ended_ = false;
  bool close_after_ = false, body_started_ = false;

  std::mutex op_mutex_;
  std::condition_variable op_cv_;
  bool op_done_ = false;
  beast::error_code op_error_;
};

void HttpCore::Impl::accept_next() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping.load()) return;
    if (ec) {
      // Out of descriptors or a transient error: try again shortly rather than spin or stop serving.
      accept_retry.expires_after(std::chrono::milliseconds(50));
      accept_retry.async_wait([this](beast::error_code e) {
        if (!e && !stopping.load()) accept_next();
      });
      return;
    }
    if (open.load() >= o.max_connections) {
      refuse(std::move(socket));
    } else {
      beast::error_code nd;
      socket.set_option(tcp::no_delay(true), nd);
      std::make_shared<Connection>(*this, std::move(socket))->start();
    }
    accept_next();
  });
}

void HttpCore::Impl::refuse(tcp::socket socket) {
  refused.fetch_add(1);
  struct Refused {
    tcp::socket socket;
    std::string text;
  };
  const std::string json = "{\"error\":\"too many open connections: the server holds " +
                           std::to_string(o.max_connections) + " (LOCUS_MAX_CONNECTIONS); try again shortly\"}";
  Request req;
  beast::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (!ec) {
    req.remote_addr = ep.address().to_string();
    req.remote_port = ep.port();
  }
  auto r = std::make_shared<Refused>(Refused{std::move(socket), simple_body_response(503, json)});
  asio::async_write(r->socket, asio::buffer(r->text), [r](beast::error_code, size_t) {
    beast::error_code ec;
    r->socket.shutdown(tcp::socket::shutdown_both, ec);
    r->socket.close(ec);
  });
  if (note) note(req, 503, "connection refused: max_connections reached");
}

HttpCore::HttpCore(CoreOptions options, HeaderCheck check_header, Handler handle, ConnectionNote note)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(check_header), std::move(handle), std::move(note))) {}

HttpCore::~HttpCore() {
  stop();
  impl_->pool.shutdown();
}

bool HttpCore::bind(std::string* error) {
  Impl& im = *impl_;
  beast::error_code ec;
  std::string host = im.o.host == "localhost" ? "127.0.0.1" : im.o.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  tcp::endpoint ep;
  const auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, static_cast<unsigned short>(im.o.port));
  } else {
    tcp::resolver resolver(im.ioc);
    const auto results = resolver.resolve(host, std::to_string(im.o.port), ec);
    if (ec || results.empty()) {
      if (error) *error = "cannot listen on " + im.o.host + ":" + std::to_string(im.o.port) + ": cannot resolve host";
      return false;
    }
    ep = results.begin()->endpoint();
  }
  im.acceptor.open(ep.protocol(), ec);
  if (!ec) im.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) im.acceptor.bind(ep, ec);
  if (!ec) im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    im.acceptor.close(ignored);
    if (error) {
      *error = "cannot listen on " + im.o.host + ":" + std::to_string(im.o.port) + " (" + ec.message() +
               ": in use, or not an address of this machine)";
    }
    return false;
  }
  im.port = im.acceptor.local_endpoint().port();
  return true;
}

int HttpCore::port() const { return impl_->port; }

void HttpCore::run() {
  Impl& im = *impl_;
  {
    std::lock_guard<std::mutex> lock(im.run_mutex);
    if (im.stopping.load()) return;
    im.accept_next();
  }
  auto work = asio::make_work_guard(im.ioc);
  std::vector<std::thread> extra;
  for (int i = 1; i < std::max(1, im.o.io_threads); ++i) extra.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : extra) t.join();
}

void HttpCore::stop() {
  Impl& im = *impl_;
  {
    std::lock_guard<std::mutex> lock(im.run_mutex);
    if (im.stopping.exchange(true)) return;
  }
  asio::post(im.ioc, [&im] {
    beast::error_code ec;
    im.acceptor.close(ec);
    im.accept_retry.cancel();
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> lock(im.conns_mutex);
    for (auto& [p, w] : im.conns) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->shut();
  live.clear();
  // Handlers see `stopping` (and failed writes) within a fraction of a second; the event loop keeps running
  // until they have returned, since their writes go through it.
  im.pool.wait_idle(Clock::now() + std::chrono::seconds(10));
  im.io_stopped.store(true);
  im.ioc.stop();
}

CoreStats HttpCore::stats() const {
  CoreStats s;
  s.open_connections = impl_->open.load();
  s.refused_connections = impl_->refused.load();
  s.timed_out = impl_->timed_out.load();
  s.busy_workers = impl_->pool.busy();
  return s;
}

}  // namespace locus::server::http
