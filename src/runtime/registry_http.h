// What pull (model_pull.cpp) and push (model_push.cpp) share when they talk to a registry over libcurl: one
// request with the same transport rules (http only where allowed, redirects kept to https, no proxy for
// loopback, connect and stall timeouts, the caller's cancel flag), the same one-line errors (PullError kinds),
// and response headers and bodies handed to callbacks. Internal to locus_pull; not a public API.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/model_name.h"
#include "runtime/model_pull.h"

namespace locus::runtime::registry_http {

// One conversation with a registry (a pull or a push): what every request and every message needs.
struct Session {
  ModelName name;
  std::string display;      // "gemma4:12b"
  std::string host;         // "registry.ollama.ai", for messages
  bool plain_http = false;  // loopback or insecure: http is allowed, also in redirects and upload locations
  int connect_timeout_ms = 30'000;
  int stall_timeout_ms = 60'000;
  std::string user_agent = "locus";
  const std::atomic<bool>* cancel = nullptr;
  // Wording of messages: "pull" / "push" (the --insecure hint), "from" / "to", what a 401 or 403 adds, and
  // the message of a cancelled transfer.
  std::string verb = "pull";
  std::string direction = "from";
  std::string unauthorized_hint;
  std::string cancelled_message;

  // Throws PullError (cancelled) with cancelled_message when the cancel flag is set.
  void check_cancel() const;
};

// The fields of a Session that follow from the name and the caller's options.
Session make_session(const ModelName& name, bool insecure, int connect_timeout_ms, int stall_timeout_ms,
                     const std::string& user_agent, const std::atomic<bool>* cancel);

struct Request {
  std::string method = "GET";  // GET, HEAD, POST or PUT
  std::string url;
  std::string what;  // "manifest of 'x'", "blob sha256:... of 'x'": for messages
  // A URL the registry handed out (an upload Location): like a redirect, https only unless plain_http.
  bool url_from_registry = false;
  bool follow_redirects = true;
  std::optional<uint64_t> range_from;  // GET: "Range: bytes=N-" when above 0
  std::vector<std::string> headers;    // "Accept: ...", "Content-Type: ..."
  // A POST or PUT body: `body` in memory, or upload_size bytes streamed from upload_file's position.
  std::string_view body;
  std::FILE* upload_file = nullptr;
  uint64_t upload_size = 0;
};

// The state of one request. Exceptions must not cross libcurl's C frames, so callbacks park them here and
// abort the transfer; perform() rethrows them.
struct Transfer {
  CURL* curl = nullptr;
  const Session* session = nullptr;
  long status = 0;  // of the final response (redirects followed)
  std::optional<uint64_t> content_length;
  std::string content_range;
  std::string location;  // the Location header of the final response
  bool body_started = false;
  std::string error_body;  // first bytes of a response with status >= 300
  std::function<void(Transfer&)> on_start;        // once, before the first body byte of a 2xx final response
  std::function<void(std::string_view)> on_body;  // body bytes of a 2xx response
  // Each piece of the request body as it is handed to libcurl (hashing, progress); may throw to abort.
  std::function<void(std::string_view)> on_upload;
  std::exception_ptr failure;
  bool cancelled = false;
  uint64_t uploaded = 0;  // request body bytes handed to libcurl
  char error_buffer[CURL_ERROR_SIZE] = {};

  void start_body();
};

// Runs one request on `curl` (reset first; its connection cache stays, so requests reuse connections).
// Throws PullError for transport failures and for final statuses >= 300, worded with request.what; the caller
// can read transfer.status afterwards to treat a status (404) its own way.
void perform(const Session& session, CURL* curl, Transfer& transfer, const Request& request);

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
// A new easy handle, libcurl initialized first; throws PullError (network) when that fails.
CurlHandle new_curl_handle();

// Server text in a one-line message: control characters become spaces, the length is capped.
std::string one_line(std::string_view s, size_t limit = 200);

}  // namespace locus::runtime::registry_http
