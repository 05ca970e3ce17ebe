#include "server/http_server.h"

#include "server/client_json.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <limits>
#include <random>
#include <thread>

#include "runtime/manifest.h"
#include "server/api_parse.h"
#include "server/embed_api.h"
#include "server/peer_socket.h"
#include "server/response_writer.h"

namespace locus::server {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// What the access-log line says about the request this worker thread is serving. httplib runs the pre-routing
// handler, the route, a streamed body and the logger on the connection's thread, so a thread_local carries it.
struct RequestLog {
  Clock::time_point start;
  bool started = false;
  std::string model;
  int32_t prompt_tokens = -1;
  int32_t eval_tokens = -1;
  // A body over the limit: the request was sent to kTooLargePath; what the client asked, for the log and the
  // error envelope.
  bool too_large = false;
  std::string method, path;
};
thread_local RequestLog t_log;

// The one route whose body has no size limit (model files; streamed to disk, never held in memory): exactly
// the paths its pattern, /api/blobs/([^/]*), matches, since any other path would have its body read whole.
bool is_blob_upload(const httplib::Request& req) {
  constexpr std::string_view kPrefix = "/api/blobs/";
  return req.method == "POST" && req.path.starts_with(kPrefix) &&
         req.path.find('/', kPrefix.size()) == std::string::npos;
}
// Where a request whose body is over the limit goes instead: a route that reads the body without keeping it
// (as httplib does for its own 413) and answers 413. Matched only with RequestLog::too_large set.
constexpr const char* kTooLargePath = "/locus-internal/body-too-large";

void note_done(const GenerationEvent& e) {
  if (e.kind != GenerationEvent::Kind::kDone) return;
  t_log.prompt_tokens = e.done.prompt_eval_count + e.done.cached_prompt_tokens;
  t_log.eval_tokens = e.done.eval_count;
}

void write_log(const OrderedJson& j) {
  const std::string s = j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

uint64_t random_seed() {
  static std::atomic<uint64_t> counter{std::random_device{}() * 0x9E3779B97F4A7C15ULL};
  return counter.fetch_add(0x9E3779B97F4A7C15ULL) ^ static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

std::string field_string(const OrderedJson& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A streamed generation between calls of httplib's content provider.
struct StreamState {
  std::unique_ptr<ResponseWriter> writer;
  Generation generation;
  std::vector<GenerationEvent> events;  // pump()'s buffers, reused from call to call
  std::string out;
  bool sse = false;
  Clock::time_point last_write = Clock::now();
  // The connection, for noticing a client that left while nothing is written (peer_socket.h).
  std::string remote_addr;
  int remote_port = -1;
  int local_port = -1;
  int fd = -2;  // -2: not looked up yet; -1: not found
  Clock::time_point last_check = Clock::now();
};

// A pull or create running on a worker thread of its own (it can take minutes and must not hold the
// connection's thread in a way that hides a client that left), its NDJSON lines queued for the handler.
struct ProgressTask {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> lines;  // JSON texts, without the newline
  size_t pushed = 0;              // lines ever queued
  bool finished = false;
  std::optional<ApiError> error;  // when finished
  std::atomic<bool> cancel{false};
  std::thread worker;

  void push(std::string line) {
    std::lock_guard<std::mutex> lock(mutex);
    lines.push_back(std::move(line));
    ++pushed;
    changed.notify_all();
  }
  void finish(std::optional<ApiError> e) {
    std::lock_guard<std::mutex> lock(mutex);
    error = std::move(e);
    finished = true;
    changed.notify_all();
  }
};

}  // namespace

struct HttpServer::Impl {
  Backend& backend;
  ServeOptions o;
  httplib::Server http;
  int port = 0;
  std::atomic<bool> stopping{false};
  // Streamed responses still open: stop() lets them write their last (error) line before httplib stops, as
  // httplib's chunked writer gives up at once, without the final chunk, once the server is stopped.
  std::atomic<int> open_streams{0};

  Impl(Backend& b, ServeOptions options) : backend(b), o(std::move(options)) {
    // A client that goes away must cost a failed write, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    const size_t threads = static_cast<size_t>(std::clamp(o.n_slots + o.max_queue + 8, 8, 512));
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // httplib's limit is one for all routes, and POST /api/blobs must take model files of any size, so its own
    // limit is lifted and the pre-routing handler applies o.max_request_bytes to every other route, from the
    // Content-Length before a byte of the body is read.
    http.set_payload_max_length(std::numeric_limits<size_t>::max());
    http.set_read_timeout(60);
    http.set_write_timeout(60);
    http.set_keep_alive_max_count(100);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      t_log = RequestLog{};
      t_log.start = Clock::now();
      t_log.started = true;
      if (!is_blob_upload(req) && req.has_header("Content-Length") &&
          req.get_header_value<uint64_t>("Content-Length") > o.max_request_bytes) {
        t_log.too_large = true;
        t_log.method = req.method;
        t_log.path = req.path;
        // httplib routes on the request it passes here as const; the object itself is its own, not const.
        auto& r = const_cast<httplib::Request&>(req);
        r.method = "POST";
        r.path = kTooLargePath;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) { on_error(req, res); });
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = std::string("internal error: ") + e.what();
      } catch (...) {
      }
      reply_error(req, res, ApiError{500, what, ""});
    });
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });
    routes();
  }

  static void log_request(const httplib::Request& req, const httplib::Response& res) {
    OrderedJson j{{"time", format_rfc3339_nano(std::chrono::system_clock::now())},
                  {"method", t_log.too_large ? t_log.method : req.method},
                  {"path", t_log.too_large ? t_log.path : req.path},
                  {"status", res.status},
                  {"duration_ms", t_log.started ? std::chrono::duration<double, std::milli>(Clock::now() - t_log.start)
                                                      .count()
                                                : 0.0},
                  {"remote", req.remote_addr},
                  {"route", "local"}};
    if (!t_log.model.empty()) j["model"] = t_log.model;
    if (t_log.prompt_tokens >= 0) j["prompt_tokens"] = t_log.prompt_tokens;
    if (t_log.eval_tokens >= 0) j["eval_tokens"] = t_log.eval_tokens;
    write_log(j);
    t_log = RequestLog{};
  }

  void reply_error(const httplib::Request& req, httplib::Response& res, const ApiError& e) {
    res.status = e.http_status;
    res.set_content(error_body_for_path(req.path, e), "application/json");
  }

  std::string too_large_message() const {
    return "request body is larger than the limit of " + std::to_string(o.max_request_bytes) +
           " bytes (LOCUS_MAX_REQUEST_BYTES)";
  }

  // Statuses httplib sets itself (no route, body too large, bad request line) get the path's envelope.
  void on_error(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route's own error answer
    std::string msg;
    switch (res.status) {
      case 404: msg = "no route for " + req.method + " " + req.path; break;
      case 413: msg = too_large_message(); break;
      default: msg = "HTTP " + std::to_string(res.status); break;
    }
    reply_error(req, res, ApiError{res.status, msg, ""});
  }

  // CORS and auth for every route but the liveness probe; returns false when the request was answered.
  bool admit(const httplib::Request& req, httplib::Response& res, bool open) {
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      if (!origin_allowed(o.origins, origin)) {
        reply_error(req, res, ApiError{403, "origin " + origin + " is not allowed (add it to LOCUS_ORIGINS)", ""});
        return false;
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Access-Control-Expose-Headers", "X-Locus-Route, Retry-After");
      res.set_header("Vary", "Origin");
    }
    if (!open && !authorized(o.api_key, req.get_header_value("Authorization"))) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_error(req, res, ApiError{401, "missing or wrong API key (Authorization: Bearer KEY, LOCUS_API_KEY)", ""});
      return false;
    }
    return true;
  }

  using Route = std::function<void(const httplib::Request&, httplib::Response&)>;
  httplib::Server::Handler guarded(Route route, bool open = false) {
    return [this, route = std::move(route), open](const httplib::Request& req, httplib::Response& res) {
      if (admit(req, res, open)) route(req, res);
    };
  }

  // The body as a JSON object, or an answered 400.
  std::optional<OrderedJson> json_body(const httplib::Request& req, httplib::Response& res) {
    // A body sent without Content-Length (chunked) passes the pre-routing check; its size is known only now.
    if (req.body.size() > o.max_request_bytes) {
      reply_error(req, res, ApiError{413, too_large_message(), ""});
      return std::nullopt;
    }
    ClientJson parsed = parse_client_json(req.body);
    OrderedJson& body = parsed.value;
    if (parsed.too_deep) {
      reply_error(req, res, ApiError{400, "request body: JSON nested deeper than " +
                                              std::to_string(kMaxClientJsonDepth) + " levels", ""});
      return std::nullopt;
    }
    if (body.is_discarded() || !body.is_object()) {
      reply_error(req, res, ApiError{400, "request body: expected a JSON object, found " +
                                              std::string(body.is_discarded() ? "invalid JSON" : body.type_name()), ""});
      return std::nullopt;
    }
    return std::move(body);
  }

  void reply_json(const httplib::Request& req, httplib::Response& res, const JsonReply& r) {
    if (r.error) return reply_error(req, res, *r.error);
    res.set_content(r.body.dump(-1, ' ', false, OrderedJson::error_handler_t::replace), "application/json");
  }

  void routes();
  void blob_routes();
  void generation(const httplib::Request& req, httplib::Response& res, Api api);
  bool pump(StreamState& s, httplib::DataSink& sink);
  void embedding(const httplib::Request& req, httplib::Response& res, EmbedApi api);
  void progress_route(const httplib::Request& req, httplib::Response& res, bool stream,
                      std::function<std::optional<ApiError>(ProgressTask&)> work);

  // Pull and create workers, joined when they are done (pruned at each new one) or at shutdown.
  std::mutex tasks_mutex;
  std::vector<std::shared_ptr<ProgressTask>> tasks;

  ~Impl() {
    std::vector<std::shared_ptr<ProgressTask>> all;
    {
      std::lock_guard<std::mutex> lock(tasks_mutex);
      all.swap(tasks);
    }
    for (auto& t : all) {
      t->cancel.store(true);
      if (t->worker.joinable()) t->worker.join();
    }
  }
};

void HttpServer::Impl::routes() {
  http.Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty() && !origin_allowed(o.origins, origin)) {
      reply_error(req, res, ApiError{403, "origin " + origin + " is not allowed (add it to LOCUS_ORIGINS)", ""});
      return;
    }
    if (!origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
    }
    res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, HEAD");
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers",
                   asked.empty() ? "Authorization, Content-Type, User-Agent, Accept, X-Requested-With" : asked);
    res.set_header("Access-Control-Max-Age", "86400");
    res.status = 204;
  });
  // Liveness probe, open even with a key: many clients call it before anything else.
  http.Get("/", guarded([](const httplib::Request&, httplib::Response& res) {
             res.set_content("Ollama is running", "text/plain; charset=utf-8");
           }, true));
  http.Get("/api/version", guarded([this](const httplib::Request&, httplib::Response& res) {
             res.set_content(OrderedJson{{"version", o.version}}.dump(), "application/json");
           }));
  // Prometheus text format: token counts and where the time goes (server/metrics.h).
  http.Get("/metrics", guarded([this](const httplib::Request&, httplib::Response& res) {
             MetricsGauges g = backend.gauges();
             g.open_streams = open_streams.load();
             res.set_content(prometheus_text(backend.metrics(), g), "text/plain; version=0.0.4; charset=utf-8");
           }));
  const std::pair<const char*, Api> generators[] = {{"/api/chat", Api::kOllamaChat},
                                                    {"/api/generate", Api::kOllamaGenerate},
                                                    {"/v1/chat/completions", Api::kOpenAiChat},
                                                    {"/v1/completions", Api::kOpenAiCompletions}};
  for (const auto& [path, api] : generators) {
    http.Post(path, guarded([this, api = api](const httplib::Request& req, httplib::Response& res) {
                generation(req, res, api);
              }));
  }
  http.Get("/api/tags", guarded([this](const httplib::Request& req, httplib::Response& res) {
             reply_json(req, res, backend.tags());
           }));
  http.Get("/api/ps", guarded([this](const httplib::Request& req, httplib::Response& res) {
             reply_json(req, res, backend.ps());
           }));
  http.Post("/api/show", guarded([this](const httplib::Request& req, httplib::Response& res) {
              auto body = json_body(req, res);
              if (!body) return;
              std::string model = field_string(*body, "model");
              if (model.empty()) model = field_string(*body, "name");  // the deprecated alias clients still send
              if (model.empty()) return reply_error(req, res, ApiError{400, "model: expected a model name, found none", "model"});
              t_log.model = model;
              const auto verbose = body->find("verbose");
              reply_json(req, res, backend.show(model, verbose != body->end() && verbose->is_boolean() && verbose->get<bool>()));
            }));
  http.Delete("/api/delete", guarded([this](const httplib::Request& req, httplib::Response& res) {
                auto body = json_body(req, res);
                if (!body) return;
                std::string model = field_string(*body, "model");
                if (model.empty()) model = field_string(*body, "name");
                if (model.empty()) return reply_error(req, res, ApiError{400, "model: expected a model name, found none", "model"});
                t_log.model = model;
                JsonReply r = backend.remove(model);
                if (r.error) return reply_error(req, res, *r.error);
                res.status = 200;
              }));
  http.Post("/api/copy", guarded([this](const httplib::Request& req, httplib::Response& res) {
              auto body = json_body(req, res);
              if (!body) return;
              const std::string source = field_string(*body, "source"), destination = field_string(*body, "destination");
              if (source.empty() || destination.empty()) {
                return reply_error(req, res, ApiError{400, "source and destination: expected two model names", "source"});
              }
              JsonReply r = backend.copy(source, destination);
              if (r.error) return reply_error(req, res, *r.error);
              res.status = 200;
            }));
  const std::pair<const char*, EmbedApi> embedders[] = {{"/api/embed", EmbedApi::kOllamaEmbed},
                                                       {"/api/embeddings", EmbedApi::kOllamaEmbeddings},
                                                       {"/v1/embeddings", EmbedApi::kOpenAi}};
  for (const auto& [path, api] : embedders) {
    http.Post(path, guarded([this, api = api](const httplib::Request& req, httplib::Response& res) {
                embedding(req, res, api);
              }));
  }
  // /api/pull and /api/push take the same body, {"model" (or "name"), "insecure"?, "stream"?}, and answer alike.
  for (const bool is_push : {false, true}) {
    http.Post(is_push ? "/api/push" : "/api/pull", guarded([this, is_push](const httplib::Request& req, httplib::Response& res) {
              auto body = json_body(req, res);
              if (!body) return;
              std::string model = field_string(*body, "model");
              if (model.empty()) model = field_string(*body, "name");  // ollama-js sends `name`
              if (model.empty()) return reply_error(req, res, ApiError{400, "model: expected a model name, found none", "model"});
              const auto insecure_it = body->find("insecure");
              if (insecure_it != body->end() && !insecure_it->is_null() && !insecure_it->is_boolean()) {
                return reply_error(req, res, ApiError{400, "insecure: expected a boolean", "insecure"});
              }
              const bool insecure = insecure_it != body->end() && insecure_it->is_boolean() && insecure_it->get<bool>();
              const auto stream_it = body->find("stream");
              const bool stream = stream_it == body->end() || !stream_it->is_boolean() || stream_it->get<bool>();
              t_log.model = model;
              progress_route(req, res, stream, [this, model, insecure, is_push](ProgressTask& task) {
                const auto on_line = [&task](const nlohmann::json& line) { task.push(line.dump()); };
                JsonReply r = is_push ? backend.push(model, insecure, on_line, task.cancel)
                                      : backend.pull(model, insecure, on_line, task.cancel);
                return r.error;
              });
            }));
  }
  http.Post("/api/create", guarded([this](const httplib::Request& req, httplib::Response& res) {
              auto body = json_body(req, res);
              if (!body) return;
              const auto stream_it = body->find("stream");
              const bool stream = stream_it == body->end() || !stream_it->is_boolean() || stream_it->get<bool>();
              t_log.model = field_string(*body, "model");
              const nlohmann::json plain = nlohmann::json::parse(body->dump());
              progress_route(req, res, stream, [this, plain](ProgressTask& task) {
                bool said_success = false;
                JsonReply r = backend.create(plain, [&](const std::string& status) {
                  said_success = status == "success";
                  task.push(OrderedJson{{"status", status}}.dump());
                });
                // Clients wait for a last {"status":"success"}; add it unless create said it.
                if (!r.error && !said_success) task.push(OrderedJson{{"status", "success"}}.dump());
                return r.error;
              });
            }));
  blob_routes();
  http.Get("/v1/models", guarded([this](const httplib::Request& req, httplib::Response& res) {
             reply_json(req, res, backend.openai_models());
           }));
  http.Get("/v1/models/(.+)", guarded([this](const httplib::Request& req, httplib::Response& res) {
             reply_json(req, res, backend.openai_model(req.matches[1]));
           }));
}

// Ollama's blob protocol, the first half of creating a model from files: HEAD /api/blobs/DIGEST says whether
// the locus store holds a blob, POST streams one into it (no body limit); /api/create then names it in "files".
// Every POST body is read to its end, whatever the answer, so that a keep-alive connection stays in step.
void HttpServer::Impl::blob_routes() {
  // "sha256:<64 lower-case hex>" (Ollama's file-name form "sha256-<hex>" too), as the store names blobs.
  const auto parse_digest = [](std::string text) -> std::optional<std::string> {
    if (text.starts_with("sha256-")) text[6] = ':';
    if (!runtime::is_valid_digest(text)) return std::nullopt;
    return text;
  };
  const auto bad_digest = [](const std::string& text) {
    return ApiError{400, "digest: expected sha256:<64 lower-case hex digits>, found \"" + text + "\"", "digest"};
  };
  // httplib answers HEAD with the GET route (and leaves the body out).
  http.Get("/api/blobs/([^/]*)", guarded([this, parse_digest, bad_digest](const httplib::Request& req,
                                                                         httplib::Response& res) {
             if (req.method != "HEAD") {
               res.set_header("Allow", "HEAD, POST");
               return reply_error(req, res, ApiError{405, "GET /api/blobs: ask with HEAD, upload with POST", ""});
             }
             const std::string text = req.matches[1];
             const auto digest = parse_digest(text);
             if (!digest) return reply_error(req, res, bad_digest(text));
             const BlobReply r = backend.has_blob(*digest);
             if (r.error) return reply_error(req, res, *r.error);
             if (!r.existed) return reply_error(req, res, ApiError{404, "blob " + *digest + " not found", "digest"});
             res.status = 200;
           }));
  http.Post("/api/blobs/([^/]*)", [this, parse_digest, bad_digest](const httplib::Request& req, httplib::Response& res,
                                                                   const httplib::ContentReader& content) {
    bool read = false;  // httplib's reader must run once: a second call would read the next request
    const BodyReader read_body = [&](const std::function<void(std::string_view)>& chunk) {
      if (read) return false;
      read = true;
      return content([&](const char* data, size_t n) {
        chunk(std::string_view(data, n));
        return true;
      });
    };
    const auto read_rest = [&] {
      if (!read) read_body([](std::string_view) {});
    };
    if (!admit(req, res, false)) return read_rest();
    const std::string text = req.matches[1];
    const auto digest = parse_digest(text);
    if (!digest) {
      read_rest();
      return reply_error(req, res, bad_digest(text));
    }
    const BlobReply r = backend.receive_blob(*digest, read_body);
    read_rest();
    if (r.error) return reply_error(req, res, *r.error);
    res.status = 201;
  });
  // Bodies over the limit, sent here by the pre-routing handler: read and dropped, then 413 in the envelope of
  // the path the client asked for.
  http.Post(kTooLargePath, [this](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& content) {
    content([](const char*, size_t) { return true; });
    if (!t_log.too_large) return reply_error(req, res, ApiError{404, "no route for POST " + req.path, ""});
    res.status = 413;
    res.set_content(error_body_for_path(t_log.path, ApiError{413, too_large_message(), ""}), "application/json");
  });
}

void HttpServer::Impl::generation(const httplib::Request& req, httplib::Response& res, Api api) {
  auto body = json_body(req, res);
  if (!body) return;
  ParseResult parsed = api == Api::kOllamaChat       ? parse_ollama_chat(*body)
                       : api == Api::kOllamaGenerate ? parse_ollama_generate(*body)
                       : api == Api::kOpenAiChat     ? parse_openai_chat(*body)
                                                     : parse_openai_completions(*body);
  if (!parsed.ok()) return reply_error(req, res, *parsed.error);
  ApiRequest& request = parsed.request;
  t_log.model = request.model;
  for (const auto& w : parsed.request.warnings) {
    write_log(OrderedJson{{"event", "request_warning"}, {"path", req.path}, {"model", request.model}, {"message", w}});
  }
  WriterConfig cfg;
  cfg.model = request.model;
  const uint64_t seed = random_seed();
  cfg.id = make_response_id(api, seed);
  cfg.created = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  cfg.tool_call_seed = seed;
  auto writer = make_response_writer(request, cfg);
  const bool stream = request.stream;

  StartResult started = backend.generate(std::move(request));
  if (started.error) {
    if (started.retry_after_s > 0) res.set_header("Retry-After", std::to_string(started.retry_after_s));
    return reply_error(req, res, *started.error);
  }
  res.set_header("X-Locus-Route", "local");
  Generation gen = started.generation;

  if (!stream) {
    std::string out;
    std::string failure;
    std::vector<GenerationEvent> events;
    int fd = -2;  // the connection (peer_socket.h), looked up when first needed
    while (!writer->finished()) {
      events.clear();
      if (!gen.events->pop_all(events, std::chrono::milliseconds(250))) {
        if (stopping.load()) {
          gen.cancel->store(true);
          failure = "the server is shutting down";
          break;
        }
        // Nothing is written before the answer is complete, so a client that gave up is seen on its socket.
        if (fd == -2) fd = find_connection_fd(req.remote_addr, req.remote_port, req.local_port);
        if (fd >= 0 && peer_closed(fd)) {
          gen.cancel->store(true);
          failure = "the client closed the connection";
          break;
        }
        continue;
      }
      for (const auto& e : events) {
        note_done(e);
        if (e.kind == GenerationEvent::Kind::kError) {
          failure = e.text;
          break;
        }
        out += write_event(*writer, e);
      }
      if (!failure.empty()) break;
    }
    if (!failure.empty()) {
      res.status = 500;
      res.set_content(writer->error_body(ApiError{500, failure, ""}), "application/json");
      return;
    }
    res.set_content(out, writer->content_type());
    return;
  }

  auto state = std::make_shared<StreamState>();
  state->sse = is_openai(api);
  state->generation = gen;
  state->remote_addr = req.remote_addr;
  state->remote_port = req.remote_port;
  state->local_port = req.local_port;
  const std::string content_type = writer->content_type();
  state->writer = std::move(writer);
  res.set_header("Cache-Control", "no-cache");
  open_streams.fetch_add(1);
  res.set_chunked_content_provider(
      content_type, [this, state](size_t, httplib::DataSink& sink) { return pump(*state, sink); },
      [this, state](bool success) {
        open_streams.fetch_sub(1);
        // The stream ended early (write failed, client gone): free the slot now rather than at the next token.
        if (!success || !state->writer->finished()) state->generation.cancel->store(true);
      });
}

// One call of the content provider: write whatever events arrived (waiting briefly for some), a ping when the
// stream has been quiet, or the error line at shutdown. Returning false ends the response (the client is gone).
bool HttpServer::Impl::pump(StreamState& s, httplib::DataSink& sink) {
  std::vector<GenerationEvent>& events = s.events;
  std::string& out = s.out;
  events.clear();
  out.clear();
  // When events arrived, their formatting and writing is timed for ServerMetrics, in this thread's CPU time: on a
  // machine whose cores the model keeps busy, wall time would also count the waits for a core.
  uint64_t cpu0 = 0;
  if (s.generation.events->pop_all(events, std::chrono::milliseconds(250))) {
    cpu0 = thread_cpu_ns();
    for (const auto& e : events) {
      note_done(e);
      out += write_event(*s.writer, e);
    }
  } else if (stopping.load()) {
    s.generation.cancel->store(true);
    out = s.writer->error("the server is shutting down");
  } else if (s.sse && Clock::now() - s.last_write >= o.ping_interval) {
    out = ": ping\n\n";  // an SSE comment: clients skip it, and a failed write tells that the client left
  }
  if (out.empty() && Clock::now() - s.last_check >= std::chrono::milliseconds(250)) {
    s.last_check = Clock::now();
    if (s.fd == -2) s.fd = find_connection_fd(s.remote_addr, s.remote_port, s.local_port);
    if (s.fd >= 0 && peer_closed(s.fd)) {
      s.generation.cancel->store(true);
      return false;
    }
  }
  if (!out.empty()) {
    if (!sink.write(out.data(), out.size())) {
      s.generation.cancel->store(true);
      return false;
    }
    s.last_write = Clock::now();
    ServerMetrics& m = backend.metrics();
    m.chunks_written.fetch_add(1, std::memory_order_relaxed);
    if (cpu0 != 0) m.write_ns.fetch_add(thread_cpu_ns() - cpu0, std::memory_order_relaxed);
  }
  if (s.writer->finished()) sink.done();
  return true;
}

void HttpServer::Impl::embedding(const httplib::Request& req, httplib::Response& res, EmbedApi api) {
  auto body = json_body(req, res);
  if (!body) return;
  EmbedParse parsed = api == EmbedApi::kOllamaEmbed       ? parse_ollama_embed(*body)
                      : api == EmbedApi::kOllamaEmbeddings ? parse_ollama_embeddings(*body)
                                                           : parse_openai_embeddings(*body);
  if (!parsed.ok()) return reply_error(req, res, *parsed.error);
  const EmbedRequest& request = parsed.request;
  t_log.model = request.model;
  for (const auto& w : request.warnings) {
    write_log(OrderedJson{{"event", "request_warning"}, {"path", req.path}, {"model", request.model}, {"message", w}});
  }
  // Nothing is written until the vectors are ready, so a client that gave up is seen on its socket.
  int fd = -2;
  auto abandoned = [&]() {
    if (stopping.load()) return true;
    if (fd == -2) fd = find_connection_fd(req.remote_addr, req.remote_port, req.local_port);
    return fd >= 0 && peer_closed(fd);
  };
  EmbedResult r = backend.embed(request, abandoned);
  if (r.error) {
    if (r.retry_after_s > 0) res.set_header("Retry-After", std::to_string(r.retry_after_s));
    return reply_error(req, res, *r.error);
  }
  t_log.prompt_tokens = r.prompt_tokens;
  res.set_header("X-Locus-Route", "local");
  res.set_content(embed_response_json(request, r).dump(-1, ' ', false, OrderedJson::error_handler_t::replace),
                  "application/json");
}

// Runs `work` (a pull or a create) on a worker thread and answers with its progress lines: NDJSON when
// streaming, else one {"status":"success"} at the end. The first line is held back until a second one comes
// (or the work ends), so that what fails at once (no such model, bad name) gets an HTTP status instead of a
// 200 stream with an error line; after that, a failure is a last {"error": ...} line.
void HttpServer::Impl::progress_route(const httplib::Request& req, httplib::Response& res, bool stream,
                                      std::function<std::optional<ApiError>(ProgressTask&)> work) {
  auto task = std::make_shared<ProgressTask>();
  {
    std::lock_guard<std::mutex> lock(tasks_mutex);
    std::erase_if(tasks, [](const std::shared_ptr<ProgressTask>& t) {
      std::lock_guard<std::mutex> tl(t->mutex);
      if (!t->finished) return false;
      if (t->worker.joinable()) t->worker.join();  // finished: returns at once
      return true;
    });
    if (stopping.load()) return reply_error(req, res, ApiError{503, "the server is shutting down", ""});
    task->worker = std::thread([task, work = std::move(work)] {
      std::optional<ApiError> e;
      try {
        e = work(*task);
      } catch (const std::exception& ex) {
        e = ApiError{500, ex.what(), ""};
      }
      task->finish(std::move(e));
    });
    tasks.push_back(task);
  }

  // Waits until `ready` holds, watching for a client that left and for shutdown; false when it gave up.
  int fd = -2;
  auto wait_until = [&](auto ready) {
    std::unique_lock<std::mutex> lock(task->mutex);
    while (!ready()) {
      if (task->changed.wait_for(lock, std::chrono::milliseconds(250), ready)) break;
      lock.unlock();
      if (fd == -2) fd = find_connection_fd(req.remote_addr, req.remote_port, req.local_port);
      const bool gone = stopping.load() || (fd >= 0 && peer_closed(fd));
      lock.lock();
      if (gone) {
        task->cancel.store(true);
        return false;
      }
    }
    return true;
  };

  if (!stream) {
    if (!wait_until([&] { return task->finished; })) return;  // nobody to answer
    std::lock_guard<std::mutex> lock(task->mutex);
    if (task->error) return reply_error(req, res, *task->error);
    res.set_content(OrderedJson{{"status", "success"}}.dump(), "application/json");
    return;
  }
  if (!wait_until([&] { return task->finished || task->pushed >= 2; })) return;
  {
    std::lock_guard<std::mutex> lock(task->mutex);
    if (task->finished && task->error && task->pushed <= 1) return reply_error(req, res, *task->error);
  }
  res.set_header("Cache-Control", "no-cache");
  open_streams.fetch_add(1);
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [this, task](size_t, httplib::DataSink& sink) {
        std::string out;
        bool finished = false;
        {
          std::unique_lock<std::mutex> lock(task->mutex);
          task->changed.wait_for(lock, std::chrono::milliseconds(250),
                                 [&] { return task->finished || !task->lines.empty(); });
          for (auto& l : task->lines) out += l + "\n";
          task->lines.clear();
          finished = task->finished;
          if (finished && task->error) out += OrderedJson{{"error", task->error->message}}.dump() + "\n";
        }
        if (!finished && out.empty() && stopping.load()) task->cancel.store(true);
        if (!out.empty() && !sink.write(out.data(), out.size())) {
          task->cancel.store(true);
          return false;
        }
        if (finished) sink.done();
        return true;
      },
      [this, task](bool success) {
        open_streams.fetch_sub(1);
        if (!success) task->cancel.store(true);  // the client left: stop the pull (its blobs resume next time)
      });
}

HttpServer::HttpServer(Backend& backend, ServeOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::bind(std::string* error) {
  const HostPort& hp = impl_->o.listen;
  if (hp.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(hp.host);
    if (impl_->port > 0) return true;
  } else if (impl_->http.bind_to_port(hp.host, hp.port)) {
    impl_->port = hp.port;
    return true;
  }
  if (error) *error = "cannot listen on " + hp.host + ":" + std::to_string(hp.port) + " (in use, or not an address of this machine)";
  return false;
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::run() { impl_->http.listen_after_bind(); }

void HttpServer::stop() {
  impl_->stopping.store(true);
  // Open streams see `stopping` within one pump (250 ms) and end with an error line; give them a moment.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (impl_->open_streams.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->http.stop();
}

}  // namespace locus::server
