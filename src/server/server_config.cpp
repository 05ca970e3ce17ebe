#include "server/server_config.h"

#include "common/trim.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "server/go_duration.h"
#include "server/json_fields.h"
#include "server/response_writer.h"

namespace locus::server {
namespace {

using common::trim;

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<HostPort> parse_host(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<HostPort> {
    if (error) *error = "host '" + std::string(text) + "': " + why;
    return std::nullopt;
  };
  std::string_view s = trim(text);
  HostPort out;
  if (s.starts_with("http://")) s.remove_prefix(7);
  else if (s.find("://") != std::string_view::npos) return fail("only plain http:// is served (no TLS)");
  if (s.ends_with("/")) s.remove_suffix(1);
  if (s.find('/') != std::string_view::npos) return fail("expected host:port, found a path");
  std::string_view host = s, port;
  if (s.starts_with("[")) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return fail("an IPv6 address needs its closing ']'");
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return fail("expected ':' after ']'");
      port = rest.substr(1);
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      if (s.find(':') != colon) return fail("an IPv6 address must be written in brackets, [::1]:11434");
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  if (!host.empty()) out.host = std::string(host);
  if (!port.empty()) {
    const auto p = parse_int(port);
    if (!p || *p < 0 || *p > 65535) return fail("port must be a number in 0-65535, found '" + std::string(port) + "'");
    out.port = static_cast<int>(*p);
  }
  return out;
}

std::vector<std::string> default_origins() {
  std::vector<std::string> out;
  for (const char* host : {"localhost", "127.0.0.1", "0.0.0.0", "[::1]"}) {
    for (const char* scheme : {"http://", "https://"}) {
      out.push_back(std::string(scheme) + host);
      out.push_back(std::string(scheme) + host + ":*");
    }
  }
  for (const char* app : {"app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"}) out.push_back(app);
  return out;
}

std::vector<std::string> split_list(std::string_view csv) {
  std::vector<std::string> out;
  while (!csv.empty()) {
    const size_t comma = csv.find(',');
    const std::string_view item = trim(csv.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  return out;
}

bool origin_allowed(const std::vector<std::string>& patterns, std::string_view origin) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, origin); });
}

bool authorized(std::string_view api_key, std::string_view header) {
  if (api_key.empty()) return true;
  header = trim(header);
  if (header.size() < 7 || !iequals(header.substr(0, 7), "bearer ")) return false;
  const std::string_view given = trim(header.substr(7));
  if (given.size() != api_key.size()) return false;
  unsigned char diff = 0;  // no early exit: the time taken says nothing about how much of the key matched
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ api_key[i]);
  return diff == 0;
}

bool is_openai_path(std::string_view path) { return path == "/v1" || path.starts_with("/v1/"); }

std::string error_body_for_path(std::string_view path, const ApiError& error) {
  return is_openai_path(path) ? openai_error_body(error) : ollama_error_body(error.message);
}

std::optional<KeepAlive> parse_keep_alive_text(std::string_view text) {
  try {
    return parse_keep_alive(OrderedJson(std::string(trim(text))), "keep_alive");
  } catch (const FieldError&) {
    return std::nullopt;
  }
}

std::optional<std::string> apply_environment(ServeOptions& o,
                                             const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv_fn(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  auto positive = [&](const char* name, int64_t max, auto* out) -> std::optional<std::string> {
    if (auto v = get(name)) {
      const auto n = parse_int(*v);
      if (!n || *n < 1 || *n > max) {
        return std::string(name) + ": expected a whole number in 1-" + std::to_string(max) + ", found '" + *v + "'";
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(*n);
    }
    return std::nullopt;
  };
  if (auto v = get("LOCUS_HOST")) {
    std::string err;
    auto hp = parse_host(*v, &err);
    if (!hp) return "LOCUS_HOST: " + err;
    o.listen = *hp;
  }
  if (auto v = get("LOCUS_API_KEY")) o.api_key = *v;
  if (auto v = get("LOCUS_ORIGINS")) {
    for (auto& origin : split_list(*v)) o.origins.push_back(std::move(origin));
  }
  if (auto e = positive("LOCUS_MAX_REQUEST_BYTES", int64_t{1} << 40, &o.max_request_bytes)) return e;
  if (auto e = positive("LOCUS_NUM_PARALLEL", 256, &o.n_slots)) return e;
  if (auto e = positive("LOCUS_MAX_QUEUE", 100000, &o.max_queue)) return e;
  if (auto e = positive("LOCUS_CONTEXT_LENGTH", int64_t{1} << 22, &o.ctx)) return e;
  if (auto v = get("LOCUS_ALLOWED_HOSTS")) {
    for (auto& h : split_list(*v)) o.allowed_hosts.push_back(std::move(h));
  }
  if (auto e = positive("LOCUS_MAX_CONNECTIONS", 1'000'000, &o.max_connections)) return e;
  if (auto v = get("LOCUS_KEEP_ALIVE")) {
    auto ka = parse_keep_alive_text(*v);
    if (!ka) return "LOCUS_KEEP_ALIVE: expected a duration (5m, 1h30m) or seconds (-1 = forever), found '" + *v + "'";
    o.keep_alive = *ka;
  }
  if (auto v = get("LOCUS_MODEL_FILES")) {
    // Before any --model: the environment's files come first in the list, as flags are added after it.
    // "a=/m/a.gguf,mmproj=/m/pa.gguf,b=/m/b.gguf": an item "mmproj=..." belongs to the model before it, as
    // --model a=/m/a.gguf,mmproj=/m/pa.gguf writes it.
    std::vector<std::string> specs;
    for (std::string& item : split_list(*v)) {
      if (item.starts_with("mmproj=") && !specs.empty()) specs.back() += "," + item;
      else specs.push_back(std::move(item));
    }
    o.model_files.insert(o.model_files.begin(), specs.begin(), specs.end());
  }
  if (auto v = get("LOCUS_MODEL_DIR")) o.model_dirs.insert(o.model_dirs.begin(), std::string(trim(*v)));
  if (auto v = get("LOCUS_ALLOW_MEDIA_URLS")) {
    const std::string t(trim(*v));
    if (t == "1" || t == "true") o.allow_media_urls = true;
    else if (t == "0" || t == "false") o.allow_media_urls = false;
    else return "LOCUS_ALLOW_MEDIA_URLS: expected 1, true, 0 or false, found '" + *v + "'";
  }
  return std::nullopt;
}

}  // namespace locus::server
