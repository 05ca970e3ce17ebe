#include "runtime/registry_http.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace locus::runtime::registry_http {
namespace {

// Enough of an error response to say what the registry meant.
constexpr size_t kMaxErrorBodyBytes = 4096;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  }
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return std::string(s);
}

// Registries answer errors as {"errors":[{"code","message"}]}; anything else is quoted as it is.
std::string registry_error_text(const std::string& body) {
  if (body.empty()) return {};
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    const auto errors = j.find("errors");
    if (errors != j.end() && errors->is_array() && !errors->empty() && (*errors)[0].is_object()) {
      const auto& e = (*errors)[0];
      std::string text;
      if (e.contains("code") && e["code"].is_string()) text = e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string()) {
        text += (text.empty() ? "" : ": ") + e["message"].get<std::string>();
      }
      if (!text.empty()) return one_line(text);
    }
    if (j.contains("error") && j["error"].is_string()) return one_line(j["error"].get<std::string>());
  }
  return one_line(body);
}

void ensure_curl_initialized() {
  // curl_global_init must run once before any handle exists; a function-local static makes that so even
  // when two threads start transfers at once.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) throw PullError(PullErrorKind::network, std::string("cannot initialize libcurl: ") + curl_easy_strerror(init));
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  // Each response of a redirect chain starts with a status line; only the last one's headers matter.
  if (starts_with_nocase(line, "HTTP/")) {
    t.content_length.reset();
    t.content_range.clear();
    t.location.clear();
  } else if (starts_with_nocase(line, "content-length:")) {
    const std::string v = trim(line.substr(15));
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) && v.size() < 20) {
      t.content_length = std::stoull(v);
    }
  } else if (starts_with_nocase(line, "content-range:")) {
    t.content_range = trim(line.substr(14));
  } else if (starts_with_nocase(line, "location:")) {
    t.location = trim(line.substr(9));
  }
  return size * count;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    t.start_body();
    if (t.status >= 300) {
      const size_t keep = std::min(n, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, t.error_body.size()));
      t.error_body.append(data, keep);
      return n;
    }
    if (t.on_body) t.on_body(std::string_view(data, n));
    return n;
  } catch (...) {
    t.failure = std::current_exception();
    return 0;  // makes curl_easy_perform return CURLE_WRITE_ERROR
  }
}

// The request body, from memory or a file; bytes pass through on_upload first.
struct UploadSource {
  Transfer* transfer = nullptr;
  std::string_view body;
  std::FILE* file = nullptr;
  uint64_t size = 0;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto& u = *static_cast<UploadSource*>(user);
  Transfer& t = *u.transfer;
  try {
    const uint64_t left = u.size - t.uploaded;
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, size * count));
    if (n == 0) return 0;
    if (u.file != nullptr) {
      n = std::fread(buffer, 1, n, u.file);
      if (n == 0) {
        throw StoreError(StoreErrorKind::io, "a stored file being sent to registry " + t.session->host + " for '" +
                                                 t.session->display + "' ended after " + std::to_string(t.uploaded) +
                                                 " of " + std::to_string(u.size) + " bytes; was it changed?");
      }
    } else {
      std::copy_n(u.body.data() + t.uploaded, n, buffer);
    }
    if (t.on_upload) t.on_upload(std::string_view(buffer, n));
    t.uploaded += n;
    return n;
  } catch (...) {
    t.failure = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

int on_transfer_info(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  const auto* cancel = t.session->cancel;
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
    t.cancelled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

}  // namespace

void Session::check_cancel() const {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
    throw PullError(PullErrorKind::cancelled, cancelled_message);
  }
}

Session make_session(const ModelName& name, bool insecure, int connect_timeout_ms, int stall_timeout_ms,
                     const std::string& user_agent, const std::atomic<bool>* cancel) {
  Session s;
  s.name = name;
  s.display = name.display();
  s.host = name.host;
  s.plain_http = registry_scheme(name, insecure) == "http";
  s.connect_timeout_ms = connect_timeout_ms;
  s.stall_timeout_ms = stall_timeout_ms;
  s.user_agent = user_agent;
  s.cancel = cancel;
  return s;
}

void Transfer::start_body() {
  if (body_started) return;
  body_started = true;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 300 && on_start) on_start(*this);
}

CurlHandle new_curl_handle() {
  ensure_curl_initialized();
  CurlHandle curl(curl_easy_init());
  if (!curl) throw PullError(PullErrorKind::network, "cannot create a libcurl handle");
  return curl;
}

std::string one_line(std::string_view s, size_t limit) {
  std::string out;
  for (char c : s.substr(0, limit)) out += std::iscntrl(static_cast<unsigned char>(c)) != 0 ? ' ' : c;
  if (s.size() > limit) out += "...";
  return trim(out);
}

void perform(const Session& s, CURL* curl, Transfer& t, const Request& r) {
  curl_easy_reset(curl);  // keeps the connection cache, so later requests reuse this one's connection
  t.curl = curl;
  t.session = &s;
  const std::string& what = r.what;
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Blobs often come through a redirect to a CDN, and uploads go where the registry says. Downloaded bytes
  // are checked by digest wherever they come from, but an https pull or push does not silently turn into
  // plain http.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, r.url_from_registry && !s.plain_http ? "https" : "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, s.plain_http ? "http,https" : "https");
  if (is_loopback_host(s.name.host)) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // a proxy cannot reach our loopback
  curl_easy_setopt(curl, CURLOPT_USERAGENT, s.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.connect_timeout_ms));
  // A stall (no byte for stall_timeout_ms) fails the transfer; a slow but moving one never does.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>((s.stall_timeout_ms + 999) / 1000)));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t.error_buffer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_transfer_info);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  std::string range;
  if (r.range_from && *r.range_from > 0) {
    range = std::to_string(*r.range_from) + "-";
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  }
  UploadSource upload{&t, r.body, r.upload_file, r.upload_file != nullptr ? r.upload_size : r.body.size()};
  std::vector<std::string> header_lines = r.headers;
  if (r.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (r.method == "PUT" || r.method == "POST") {
    // Both send their body through the read callback with a known length; the method is set by name so that
    // a POST is not turned into a GET by a redirect. No "Expect: 100-continue": the body goes at once.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload.size));
    header_lines.emplace_back("Expect:");
  }
  HeaderList headers;
  for (const auto& h : header_lines) {
    curl_slist* grown = curl_slist_append(headers.get(), h.c_str());
    if (grown == nullptr) throw PullError(PullErrorKind::network, "out of memory building the request for the " + what);
    headers.release();
    headers.reset(grown);
  }
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode rc = curl_easy_perform(curl);
  if (t.failure) std::rethrow_exception(t.failure);
  if (t.cancelled || rc == CURLE_ABORTED_BY_CALLBACK) s.check_cancel();
  const std::string detail = t.error_buffer[0] != 0 ? one_line(t.error_buffer) : curl_easy_strerror(rc);
  const std::string at = " (" + r.url + ")";
  switch (rc) {
    case CURLE_OK: break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      throw PullError(PullErrorKind::network, "cannot resolve registry host " + s.host + " for '" + s.display + "': " + detail);
    case CURLE_COULDNT_CONNECT:
      throw PullError(PullErrorKind::network, "cannot connect to registry " + s.host + " for '" + s.display + "': " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      throw PullError(PullErrorKind::network, "registry " + s.host + " timed out on the " + what + ": " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
      throw PullError(PullErrorKind::insecure, "registry " + s.host + " sent the " + what +
                                                   " to an address locus will not follow over https only (" + detail +
                                                   "); " + s.verb + " with --insecure (API: \"insecure\": true) to allow plain http");
    case CURLE_TOO_MANY_REDIRECTS:
      throw PullError(PullErrorKind::bad_response, "registry " + s.host + " redirected the " + what + " too often" + at);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
      throw PullError(PullErrorKind::network, "TLS with registry " + s.host + " failed: " + detail);
    default:
      throw PullError(PullErrorKind::network, "transfer of the " + what + " " + s.direction + " " + s.host + " failed: " + detail);
  }
  t.start_body();  // an empty body never reached on_write
  if (t.status < 300) return;
  const std::string said = registry_error_text(t.error_body);
  const std::string because = " (HTTP " + std::to_string(t.status) + (said.empty() ? "" : ": " + said) + ")";
  if (t.status == 401 || t.status == 403) {
    throw PullError(PullErrorKind::unauthorized,
                    "registry " + s.host + " refused access to the " + what + because + s.unauthorized_hint);
  }
  // Server-side trouble is worth another try; a client error is not.
  const PullErrorKind kind = t.status >= 500 ? PullErrorKind::network : PullErrorKind::bad_response;
  throw PullError(kind, "registry " + s.host + " answered the request for the " + what + because + at);
}

}  // namespace locus::runtime::registry_http
