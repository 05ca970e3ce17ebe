// `locus serve` settings and the small HTTP policies that need no model: where to listen (OLLAMA_HOST's
// syntax), bearer-key auth, CORS origins, and which error envelope a path gets. Pure functions, so they are
// tested without a socket.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_request.h"
#include "server/host_check.h"

namespace locus::server {

inline constexpr int kDefaultPort = 11434;
inline constexpr size_t kDefaultMaxRequestBytes = size_t{64} << 20;

struct HostPort {
  std::string host = "127.0.0.1";
  int port = kDefaultPort;
  bool operator==(const HostPort&) const = default;
};

// OLLAMA_HOST's forms: "host:port", "host", ":port", "[v6]:port", "[v6]", an optional "http://" prefix and a
// trailing '/'. A missing host is 127.0.0.1, a missing port 11434. Returns nothing and sets *error for
// anything else (a port outside 0-65535, "https://", a path).
std::optional<HostPort> parse_host(std::string_view text, std::string* error);

// Ollama's default origins: localhost, 127.0.0.1, 0.0.0.0 and [::1] on any port (http and https) and the
// app-like schemes (app://, file://, tauri://, vscode-webview://, vscode-file://).
std::vector<std::string> default_origins();

struct ServeOptions {
  HostPort listen;
  std::string api_key;               // empty: no auth
  std::vector<std::string> origins = default_origins();  // allowed CORS origins ('*' matches any run of characters)
  size_t max_request_bytes = kDefaultMaxRequestBytes;
  int n_slots = 4;            // requests generating at once per model
  int max_queue = 32;         // requests waiting for a slot per model
  uint32_t ctx = 4096;        // context (tokens) of each slot
  KeepAlive keep_alive{false, 5 * 60 * 1000};
  int n_threads = 0;          // model threads; 0 = all cores
  std::chrono::milliseconds ping_interval{3000};  // SSE ": ping" while nothing else is written
  std::string version;        // GET /api/version
  // Connections (server/http_core.h): a bound on open ones (503 past it) and the deadlines that close idle or
  // slow ones.
  size_t max_connections = 4096;
  std::chrono::milliseconds header_timeout{10'000};  // a request's header, from its first byte
  std::chrono::milliseconds idle_timeout{60'000};    // a keep-alive connection between requests
  std::chrono::milliseconds body_timeout{60'000};    // a whole JSON body; a pause in a model upload
  std::chrono::milliseconds write_timeout{60'000};   // one write to a client that does not read
  // Extra Host names accepted while listening on loopback ('*' wildcards); see host_allowed.
  std::vector<std::string> allowed_hosts;
  // GGUF files served by name, as given; served_models.h parses and checks them at start-up. A request can
  // only name models: serving a file is the operator's choice, made here.
  std::vector<std::string> model_files;  // "NAME=PATH[,mmproj=FILE]": LOCUS_MODEL_FILES's, then --model's
  std::vector<std::string> model_dirs;   // LOCUS_MODEL_DIR, then --model-dir's
  // Media named by http(s) URLs in OpenAI content parts (LOCUS_ALLOW_MEDIA_URLS): refused when off (the
  // default); when on, fetched under media_fetch.h's rules (public addresses only, no redirects, no proxy),
  // all of a request's together within max_request_bytes and media_url_timeout.
  bool allow_media_urls = false;
  std::chrono::milliseconds media_url_timeout{30'000};
  // For tests only (never from the environment): let fetches reach loopback, where tests serve media.
  bool media_urls_allow_loopback_for_tests = false;
};

// A comma-separated list; blanks trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view csv);
// Whether `origin` matches one of the patterns; '*' in a pattern matches any run of characters.
bool origin_allowed(const std::vector<std::string>& patterns, std::string_view origin);

// With a key set, `Authorization: Bearer KEY` (scheme case-insensitive) is required; compared in constant
// time for equal lengths. Without a key everything is allowed.
bool authorized(std::string_view api_key, std::string_view authorization_header);

// host_check.h's rule for this server's address and LOCUS_ALLOWED_HOSTS.
inline bool host_allowed(const ServeOptions& options, std::string_view host_header) {
  return host_allowed(options.listen.host, options.allowed_hosts, host_header);
}

// /v1/... answers errors in OpenAI's envelope, everything else in Ollama's.
bool is_openai_path(std::string_view path);
std::string error_body_for_path(std::string_view path, const ApiError& error);

// The environment's settings over the defaults: LOCUS_HOST, LOCUS_API_KEY, LOCUS_ORIGINS, LOCUS_MAX_REQUEST_BYTES,
// LOCUS_NUM_PARALLEL, LOCUS_MAX_QUEUE, LOCUS_CONTEXT_LENGTH, LOCUS_KEEP_ALIVE, LOCUS_ALLOWED_HOSTS,
// LOCUS_MAX_CONNECTIONS, LOCUS_MODEL_FILES (comma-separated NAME=PATH, each optionally followed by
// ",mmproj=FILE" or ",mmproj=none"), LOCUS_MODEL_DIR, LOCUS_ALLOW_MEDIA_URLS
// (1 | true | 0 | false). `getenv` is injectable
// for tests.
// Returns an error line naming the variable, what was expected and what was found, or nothing.
std::optional<std::string> apply_environment(ServeOptions& options,
                                             const std::function<const char*(const char*)>& getenv_fn);
// LOCUS_KEEP_ALIVE / --keep-alive: a Go duration or a number of seconds (negative: forever).
std::optional<KeepAlive> parse_keep_alive_text(std::string_view text);

}  // namespace locus::server
