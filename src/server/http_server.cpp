#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "runtime/manifest.h"
#include "server/api_parse.h"
#include "server/client_json.h"
#include "server/embed_api.h"
#include "server/http_core.h"
#include "server/media_fetch.h"
#include "server/response_writer.h"
#include "server/transcription.h"

namespace locus::server {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using http::Exchange;
using http::Request;
using http::Response;

// What the access-log line says about the request this worker thread is serving: a route runs on one worker
// thread from start to end, so a thread_local carries it.
struct RequestLog {
  Clock::time_point start;
  std::string model;
  int32_t prompt_tokens = -1;
  int32_t eval_tokens = -1;
};
thread_local RequestLog t_log;

constexpr std::string_view kBlobPrefix = "/api/blobs/";
constexpr std::string_view kModelPrefix = "/v1/models/";

// The one route whose body has no size limit (model files; streamed to disk, never held in memory).
bool is_blob_upload(const Request& req) {
  return req.method == "POST" && req.path.starts_with(kBlobPrefix) &&
         req.path.find('/', kBlobPrefix.size()) == std::string::npos;
}

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

// A streamed generation: the writer and pump()'s buffers, reused from round to round.
struct StreamState {
  std::unique_ptr<ResponseWriter> writer;
  Generation generation;
  std::vector<GenerationEvent> events;
  std::string out;
  bool sse = false;
  Clock::time_point last_write = Clock::now();
  Clock::time_point last_check = Clock::now();
};

// A pull or create running on a worker thread of its own (it can take minutes; the route's thread watches the
// client meanwhile), its NDJSON lines queued for the route.
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

// Counts a stream as open for as long as it lives (stop() waits for open streams to write their last line).
class OpenStream {
 public:
  explicit OpenStream(std::atomic<int>& n) : n_(n) { n_.fetch_add(1); }
  ~OpenStream() { n_.fetch_sub(1); }
  OpenStream(const OpenStream&) = delete;
  OpenStream& operator=(const OpenStream&) = delete;

 private:
  std::atomic<int>& n_;
};

}  // namespace

struct HttpServer::Impl {
  // A route: the request, the answer to fill (sent when the route returns, unless it answered itself with a
  // stream) and the exchange for streaming, reading a body and watching the client.
  using Route = std::function<void(Exchange&, const Request&, Response&)>;
  struct RouteEntry {
    Route route;
    bool open = false;  // no API key needed (the liveness probe)
  };

  Backend& backend;
  ServeOptions o;
  std::atomic<bool> stopping{false};
  // Streamed responses still open: stop() lets them write their last (error) line before connections close.
  std::atomic<int> open_streams{0};
  std::map<std::pair<std::string, std::string>, RouteEntry> exact;  // (method, path)
  // Routes for a path prefix with one parameter after it (no further '/' unless `rest` allows it).
  struct PrefixRoute {
    std::string method;
    std::string_view prefix;
    bool rest = false;
    RouteEntry entry;
  };
  std::vector<PrefixRoute> prefixed;
  // Pull and create workers, joined when they are done (pruned at each new one) or at shutdown.
  std::mutex tasks_mutex;
  std::vector<std::shared_ptr<ProgressTask>> tasks;
  std::unique_ptr<http::HttpCore> core;

  Impl(Backend& b, ServeOptions options) : backend(b), o(std::move(options)) {
    // A client that goes away must cost a failed write, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    routes();
    http::CoreOptions co;
    co.host = o.listen.host;
    co.port = o.listen.port;
    co.max_connections = o.max_connections;
    co.header_timeout = o.header_timeout;
    co.idle_timeout = o.idle_timeout;
    co.body_timeout = o.body_timeout;
    co.write_timeout = o.write_timeout;
    // Streams and waits for a slot each hold a worker for as long as they last; more than the slots and the
    // queue can hold never happen at once, so this bound is never what makes a request wait.
    co.max_workers = std::clamp(o.n_slots + o.max_queue + 16, 16, 1024);
    core = std::make_unique<http::HttpCore>(
        co, [this](const Request& req) { return check_header(req); }, [this](Exchange& ex) { handle(ex); },
        [](const Request& req, int status, std::string_view what) { log_failure(req, status, what); });
  }

  ~Impl() {
    core.reset();  // its handlers first: they use the tasks below
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

  Response error_response(std::string_view path, const ApiError& e) const {
    Response r;
    r.status = e.http_status;
    r.set_content(error_body_for_path(path, e), "application/json");
    return r;
  }

  void reply_error(const Request& req, Response& res, const ApiError& e) const {
    res.status = e.http_status;
    res.set_content(error_body_for_path(req.path, e), "application/json");
  }

  std::string too_large_message() const {
    return "request body is larger than the limit of " + std::to_string(o.max_request_bytes) +
           " bytes (LOCUS_MAX_REQUEST_BYTES)";
  }

  static void log_line(const Request& req, int status, double duration_ms, const std::string& model,
                       int32_t prompt_tokens, int32_t eval_tokens, std::string_view what) {
    OrderedJson j{{"time", format_rfc3339_nano(std::chrono::system_clock::now())},
                  {"method", req.method},
                  {"path", req.path},
                  {"status", status},
                  {"duration_ms", duration_ms},
                  {"remote", req.remote_addr},
                  {"route", "local"}};
    if (!model.empty()) j["model"] = model;
    if (prompt_tokens >= 0) j["prompt_tokens"] = prompt_tokens;
    if (eval_tokens >= 0) j["eval_tokens"] = eval_tokens;
    if (!what.empty()) j["error"] = std::string(what);
    write_log(j);
  }
  static void log_failure(const Request& req, int status, std::string_view what) {
    log_line(req, status, 0.0, "", -1, -1, what);
  }

  // Event-loop thread, header only: the Host check, the body limit from Content-Length, how the body is read.
  http::HeaderDecision check_header(const Request& req) {
    http::HeaderDecision d;
    const std::string host = req.header("Host");
    if (!host_allowed(o, host)) {
      const ApiError e{403, "host '" + host + "' is not allowed: the server listens on loopback, which only local "
                            "names reach (allow more with LOCUS_ALLOWED_HOSTS)", ""};
      d.refusal = error_response(req.path, e);
      log_line(req, 403, 0.0, "", -1, -1, "host not allowed");
      return d;
    }
    if (is_blob_upload(req)) {
      d.mode = http::BodyMode::kStreamed;
      return d;
    }
    d.body_limit = o.max_request_bytes;
    if (req.has_header("Content-Length")) {
      if (auto refused = check_content_length(req.header("Content-Length"), o.max_request_bytes)) {
        d.refusal = error_response(req.path, ApiError{refused->status, refused->message, ""});
        log_line(req, refused->status, 0.0, "", -1, -1, "body refused");
        return d;
      }
    }
    d.too_large = [this, path = req.path, method = req.method, remote = req.remote_addr] {
      Request r;
      r.method = method;
      r.path = path;
      r.remote_addr = remote;
      log_line(r, 413, 0.0, "", -1, -1, "body too large");
      return error_response(path, ApiError{413, too_large_message(), ""});
    };
    return d;
  }

  // Worker thread: one whole request.
  void handle(Exchange& ex) {
    t_log = RequestLog{};
    t_log.start = Clock::now();
    const Request& req = ex.request();
    Response res;
    try {
      dispatch(ex, req, res);
    } catch (const std::exception& e) {
      if (ex.status() == 0) res = error_response(req.path, ApiError{500, std::string("internal error: ") + e.what(), ""});
    }
    if (ex.status() == 0) ex.respond(res);
    log_line(req, ex.status(), std::chrono::duration<double, std::milli>(Clock::now() - t_log.start).count(),
             t_log.model, t_log.prompt_tokens, t_log.eval_tokens, "");
    t_log = RequestLog{};
  }

  void dispatch(Exchange& ex, const Request& req, Response& res) {
    if (req.method == "OPTIONS") return preflight(req, res);
    const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
    const RouteEntry* entry = nullptr;
    if (auto it = exact.find({method, req.path}); it != exact.end()) entry = &it->second;
    if (!entry) {
      for (const auto& p : prefixed) {
        if (p.method == method && req.path.starts_with(p.prefix) &&
            req.path.size() > p.prefix.size() &&
            (p.rest || req.path.find('/', p.prefix.size()) == std::string::npos)) {
          entry = &p.entry;
          break;
        }
      }
    }
    if (!entry) return reply_error(req, res, ApiError{404, "no route for " + req.method + " " + req.path, ""});
    if (!admit(req, res, entry->open)) return;
    entry->route(ex, req, res);
  }

  void preflight(const Request& req, Response& res) {
    const std::string origin = req.header("Origin");
    if (!origin.empty() && !origin_allowed(o.origins, origin)) {
      return reply_error(req, res, ApiError{403, "origin " + origin + " is not allowed (add it to LOCUS_ORIGINS)", ""});
    }
    if (!origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
    }
    res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, HEAD");
    const std::string asked = req.header("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers",
                   asked.empty() ? "Authorization, Content-Type, User-Agent, Accept, X-Requested-With" : asked);
    res.set_header("Access-Control-Max-Age", "86400");
    res.status = 204;
  }

  // CORS and auth for every route but the liveness probe; returns false when the request was answered.
  bool admit(const Request& req, Response& res, bool open) {
    const std::string origin = req.header("Origin");
    if (!origin.empty()) {
      if (!origin_allowed(o.origins, origin)) {
        reply_error(req, res, ApiError{403, "origin " + origin + " is not allowed (add it to LOCUS_ORIGINS)", ""});
        return false;
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Access-Control-Expose-Headers", "X-Locus-Route, Retry-After");
      res.set_header("Vary", "Origin");
    }
    if (!open && !authorized(o.api_key, req.header("Authorization"))) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_error(req, res, ApiError{401, "missing or wrong API key (Authorization: Bearer KEY, LOCUS_API_KEY)", ""});
      return false;
    }
    return true;
  }

  // The body as a JSON object, or an answered 400.
  std::optional<OrderedJson> json_body(const Request& req, Response& res) {
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

  void reply_json(const Request& req, Response& res, const JsonReply& r) {
    if (r.error) return reply_error(req, res, *r.error);
    res.set_content(r.body.dump(-1, ' ', false, OrderedJson::error_handler_t::replace), "application/json");
  }

  void add(const std::string& method, const std::string& path, Route route, bool open = false) {
    exact[{method, path}] = RouteEntry{std::move(route), open};
  }

  void routes();
  void blob_routes();
  void generation(Exchange& ex, const Request& req, Response& res, Api api);
  void serve_generation(Exchange& ex, const Request& req, Response& res, ParseResult parsed);
  std::optional<ApiError> remote_media(ApiRequest& request);
  bool pump(StreamState& s, Exchange& ex);
  void embedding(Exchange& ex, const Request& req, Response& res, EmbedApi api);
  void progress_route(Exchange& ex, const Request& req, Response& res, bool stream,
                      std::function<std::optional<ApiError>(ProgressTask&)> work);
};

void HttpServer::Impl::routes() {
  // Liveness probe, open even with a key: many clients call it before anything else.
  add("GET", "/", [](Exchange&, const Request&, Response& res) {
    res.set_content("Ollama is running", "text/plain; charset=utf-8");
  }, true);
  add("GET", "/api/version", [this](Exchange&, const Request&, Response& res) {
    res.set_content(OrderedJson{{"version", o.version}}.dump(), "application/json");
  });
  // Prometheus text format: token counts and where the time goes (server/metrics.h).
  add("GET", "/metrics", [this](Exchange&, const Request&, Response& res) {
    MetricsGauges g = backend.gauges();
    g.open_streams = open_streams.load();
    const http::CoreStats cs = core->stats();
    g.open_connections = cs.open_connections;
    g.refused_connections = cs.refused_connections;
    g.timed_out_connections = cs.timed_out;
    res.set_content(prometheus_text(backend.metrics(), g), "text/plain; version=0.0.4; charset=utf-8");
  });
  const std::pair<const char*, Api> generators[] = {{"/api/chat", Api::kOllamaChat},
                                                    {"/api/generate", Api::kOllamaGenerate},
                                                    {"/v1/chat/completions", Api::kOpenAiChat},
                                                    {"/v1/completions", Api::kOpenAiCompletions},
                                                    {"/v1/audio/transcriptions", Api::kOpenAiTranscription}};
  for (const auto& [path, api] : generators) {
    add("POST", path, [this, api = api](Exchange& ex, const Request& req, Response& res) {
      generation(ex, req, res, api);
    });
  }
  add("GET", "/api/tags", [this](Exchange&, const Request& req, Response& res) { reply_json(req, res, backend.tags()); });
  add("GET", "/api/ps", [this](Exchange&, const Request& req, Response& res) { reply_json(req, res, backend.ps()); });
  add("POST", "/api/show", [this](Exchange&, const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    std::string model = field_string(*body, "model");
    if (model.empty()) model = field_string(*body, "name");  // the deprecated alias clients still send
    if (model.empty()) return reply_error(req, res, ApiError{400, "model: expected a model name, found none", "model"});
    t_log.model = model;
    const auto verbose = body->find("verbose");
    reply_json(req, res, backend.show(model, verbose != body->end() && verbose->is_boolean() && verbose->get<bool>()));
  });
  add("DELETE", "/api/delete", [this](Exchange&, const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    std::string model = field_string(*body, "model");
    if (model.empty()) model = field_string(*body, "name");
    if (model.empty()) return reply_error(req, res, ApiError{400, "model: expected a model name, found none", "model"});
    t_log.model = model;
    JsonReply r = backend.remove(model);
    if (r.error) return reply_error(req, res, *r.error);
    res.status = 200;
  });
  add("POST", "/api/copy", [this](Exchange&, const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    const std::string source = field_string(*body, "source"), destination = field_string(*body, "destination");
    if (source.empty() || destination.empty()) {
      return reply_error(req, res, ApiError{400, "source and destination: expected two model names", "source"});
    }
    JsonReply r = backend.copy(source, destination);
    if (r.error) return reply_error(req, res, *r.error);
    res.status = 200;
  });
  const std::pair<const char*, EmbedApi> embedders[] = {{"/api/embed", EmbedApi::kOllamaEmbed},
                                                       {"/api/embeddings", EmbedApi::kOllamaEmbeddings},
                                                       {"/v1/embeddings", EmbedApi::kOpenAi}};
  for (const auto& [path, api] : embedders) {
    add("POST", path, [this, api = api](Exchange& ex, const Request& req, Response& res) {
      embedding(ex, req, res, api);
    });
  }
  // /api/pull and /api/push take the same body, {"model" (or "name"), "insecure"?, "stream"?}, and answer alike.
  for (const bool is_push : {false, true}) {
    add("POST", is_push ? "/api/push" : "/api/pull", [this, is_push](Exchange& ex, const Request& req, Response& res) {
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
      progress_route(ex, req, res, stream, [this, model, insecure, is_push](ProgressTask& task) {
        const auto on_line = [&task](const nlohmann::json& line) { task.push(line.dump()); };
        JsonReply r = is_push ? backend.push(model, insecure, on_line, task.cancel)
                              : backend.pull(model, insecure, on_line, task.cancel);
        return r.error;
      });
    });
  }
  add("POST", "/api/create", [this](Exchange& ex, const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    const auto stream_it = body->find("stream");
    const bool stream = stream_it == body->end() || !stream_it->is_boolean() || stream_it->get<bool>();
    t_log.model = field_string(*body, "model");
    const nlohmann::json plain = nlohmann::json::parse(body->dump());
    progress_route(ex, req, res, stream, [this, plain](ProgressTask& task) {
      bool said_success = false;
      JsonReply r = backend.create(plain, [&](const std::string& status) {
        said_success = status == "success";
        task.push(OrderedJson{{"status", status}}.dump());
      });
      // Clients wait for a last {"status":"success"}; add it unless create said it.
      if (!r.error && !said_success) task.push(OrderedJson{{"status", "success"}}.dump());
      return r.error;
    });
  });
  blob_routes();
  add("GET", "/v1/models", [this](Exchange&, const Request& req, Response& res) {
    reply_json(req, res, backend.openai_models());
  });
  prefixed.push_back(PrefixRoute{"GET", kModelPrefix, true, RouteEntry{[this](Exchange&, const Request& req, Response& res) {
    reply_json(req, res, backend.openai_model(req.path.substr(kModelPrefix.size())));
  }}});
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
  // GET routes answer HEAD too (without the body); a blob is only asked about with HEAD.
  prefixed.push_back(PrefixRoute{"GET", kBlobPrefix, false, RouteEntry{[this, parse_digest, bad_digest](
      Exchange&, const Request& req, Response& res) {
    if (req.method != "HEAD") {
      res.set_header("Allow", "HEAD, POST");
      return reply_error(req, res, ApiError{405, "GET /api/blobs: ask with HEAD, upload with POST", ""});
    }
    const std::string text = req.path.substr(kBlobPrefix.size());
    const auto digest = parse_digest(text);
    if (!digest) return reply_error(req, res, bad_digest(text));
    const BlobReply r = backend.has_blob(*digest);
    if (r.error) return reply_error(req, res, *r.error);
    if (!r.existed) return reply_error(req, res, ApiError{404, "blob " + *digest + " not found", "digest"});
    res.status = 200;
  }}});
  prefixed.push_back(PrefixRoute{"POST", kBlobPrefix, false, RouteEntry{[this, parse_digest, bad_digest](
      Exchange& ex, const Request& req, Response& res) {
    bool read = false;  // the body can be read once
    const BodyReader read_body = [&](const std::function<void(std::string_view)>& chunk) {
      if (read) return false;
      read = true;
      return ex.read_body(chunk);
    };
    const auto read_rest = [&] {
      if (!read) read_body([](std::string_view) {});
    };
    const std::string text = req.path.substr(kBlobPrefix.size());
    const auto digest = parse_digest(text);
    if (!digest) {
      read_rest();
      return reply_error(req, res, bad_digest(text));
    }
    const BlobReply r = backend.receive_blob(*digest, read_body);
    read_rest();
    if (r.error) return reply_error(req, res, *r.error);
    res.status = 201;
  }}});
}

void HttpServer::Impl::generation(Exchange& ex, const Request& req, Response& res, Api api) {
  if (api == Api::kOpenAiTranscription) {
    return serve_generation(ex, req, res, parse_transcription(req.header("Content-Type"), req.body));
  }
  auto body = json_body(req, res);
  if (!body) return;
  serve_generation(ex, req, res,
                   api == Api::kOllamaChat       ? parse_ollama_chat(*body)
                   : api == Api::kOllamaGenerate ? parse_ollama_generate(*body)
                   : api == Api::kOpenAiChat     ? parse_openai_chat(*body)
                                                 : parse_openai_completions(*body));
}

// Media the client named by an http(s) URL instead of sending its bytes: refused unless the server allows
// fetching (LOCUS_ALLOW_MEDIA_URLS), else fetched here, one after another, under media_fetch.h's rules and
// within the body limit and media_url_timeout (each URL and all of them together).
std::optional<ApiError> HttpServer::Impl::remote_media(ApiRequest& request) {
  size_t total = 0;
  const auto deadline = Clock::now() + o.media_url_timeout;  // for all of the request's URLs together
  for (MediaInput& m : request.media) {
    if (m.url.empty()) continue;
    if (!o.allow_media_urls) {
      return ApiError{400, m.param + ": expected a data: URI with the bytes in base64, found an http(s) URL (this "
                                     "server does not fetch media; it would with LOCUS_ALLOW_MEDIA_URLS=1)", m.param};
    }
    MediaFetchOptions fo;
    fo.max_bytes = o.max_request_bytes - std::min(total, o.max_request_bytes);
    fo.timeout = std::max(std::chrono::milliseconds(1),
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    fo.connect_timeout = std::min(fo.timeout, std::chrono::milliseconds(10'000));
    fo.allow_loopback_for_tests = o.media_urls_allow_loopback_for_tests;
    MediaFetchResult f = fetch_media_url(m.url, fo);
    if (f.error) return ApiError{400, m.param + ": " + *f.error, m.param};
    total += f.bytes.size();
    m.bytes = std::move(f.bytes);
    if (m.mime.empty()) m.mime = std::move(f.content_type);
    m.url.clear();
  }
  return std::nullopt;
}

void HttpServer::Impl::serve_generation(Exchange& ex, const Request& req, Response& res, ParseResult parsed) {
  if (!parsed.ok()) return reply_error(req, res, *parsed.error);
  ApiRequest& request = parsed.request;
  const Api api = request.api;
  t_log.model = request.model;
  for (const auto& w : parsed.request.warnings) {
    write_log(OrderedJson{{"event", "request_warning"}, {"path", req.path}, {"model", request.model}, {"message", w}});
  }
  if (auto e = remote_media(request)) return reply_error(req, res, *e);
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
    while (!writer->finished()) {
      events.clear();
      if (!gen.events->pop_all(events, std::chrono::milliseconds(250))) {
        if (stopping.load()) {
          gen.cancel->store(true);
          failure = "the server is shutting down";
          break;
        }
        // Nothing is written before the answer is complete, so a client that gave up is seen on its socket.
        if (ex.client_gone()) {
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
    res.set_content(std::move(out), writer->content_type());
    return;
  }

  StreamState state;
  state.sse = is_openai(api);
  state.generation = gen;
  res.content_type = writer->content_type();
  state.writer = std::move(writer);
  res.set_header("Cache-Control", "no-cache");
  OpenStream counted(open_streams);
  bool ok = ex.begin_stream(res);
  while (ok && !state.writer->finished()) ok = pump(state, ex);
  if (ok) ex.end_stream();
  // The stream ended early (write failed, client gone): free the slot now rather than at the next token.
  if (!ok || !state.writer->finished()) state.generation.cancel->store(true);
}

// One round of a stream: write whatever events arrived (waiting briefly for some), a ping when the stream has
// been quiet, or the error line at shutdown. False when the client is gone.
bool HttpServer::Impl::pump(StreamState& s, Exchange& ex) {
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
    if (ex.client_gone()) {
      s.generation.cancel->store(true);
      return false;
    }
  }
  if (!out.empty()) {
    if (!ex.write(out)) {
      s.generation.cancel->store(true);
      return false;
    }
    s.last_write = Clock::now();
    ServerMetrics& m = backend.metrics();
    m.chunks_written.fetch_add(1, std::memory_order_relaxed);
    if (cpu0 != 0) m.write_ns.fetch_add(thread_cpu_ns() - cpu0, std::memory_order_relaxed);
  }
  return true;
}

void HttpServer::Impl::embedding(Exchange& ex, const Request& req, Response& res, EmbedApi api) {
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
  auto abandoned = [&]() { return stopping.load() || ex.client_gone(); };
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
void HttpServer::Impl::progress_route(Exchange& ex, const Request& req, Response& res, bool stream,
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
  auto wait_until = [&](auto ready) {
    std::unique_lock<std::mutex> lock(task->mutex);
    while (!ready()) {
      if (task->changed.wait_for(lock, std::chrono::milliseconds(250), ready)) break;
      lock.unlock();
      const bool gone = stopping.load() || ex.client_gone();
      lock.lock();
      if (gone) {
        task->cancel.store(true);
        return false;
      }
    }
    return true;
  };

  if (!stream) {
    if (!wait_until([&] { return task->finished; })) {
      res.status = 499;  // nobody to answer; the connection is closed
      return;
    }
    std::lock_guard<std::mutex> lock(task->mutex);
    if (task->error) return reply_error(req, res, *task->error);
    res.set_content(OrderedJson{{"status", "success"}}.dump(), "application/json");
    return;
  }
  if (!wait_until([&] { return task->finished || task->pushed >= 2; })) {
    res.status = 499;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(task->mutex);
    if (task->finished && task->error && task->pushed <= 1) return reply_error(req, res, *task->error);
  }
  res.set_header("Cache-Control", "no-cache");
  res.content_type = "application/x-ndjson";
  OpenStream counted(open_streams);
  if (!ex.begin_stream(res)) {
    task->cancel.store(true);
    return;
  }
  Clock::time_point last_check = Clock::now();
  for (;;) {
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
    if (!finished && out.empty()) {
      if (stopping.load()) task->cancel.store(true);
      if (Clock::now() - last_check >= std::chrono::milliseconds(250)) {
        last_check = Clock::now();
        if (ex.client_gone()) {
          task->cancel.store(true);  // the client left: stop the pull (its blobs resume next time)
          return;
        }
      }
    }
    if (!out.empty() && !ex.write(out)) {
      task->cancel.store(true);
      return;
    }
    if (finished) break;
  }
  ex.end_stream();
}

HttpServer::HttpServer(Backend& backend, ServeOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::bind(std::string* error) { return impl_->core->bind(error); }

int HttpServer::port() const { return impl_->core->port(); }

void HttpServer::run() { impl_->core->run(); }

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) {
    impl_->core->stop();
    return;
  }
  // Open streams see `stopping` within one round (250 ms) and end with an error line; give them a moment.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (impl_->open_streams.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->core->stop();
}

}  // namespace locus::server
