#include "server/host_check.h"

#include "common/trim.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace locus::server {
namespace {

using common::trim;

// A port: 1-5 digits, nothing else.
bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point: linear enough for short origin strings.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool host_allowed(std::string_view listen_host, const std::vector<std::string>& allowed, std::string_view host_header) {
  if (!is_loopback_host(listen_host)) return true;
  std::string_view host = trim(host_header);
  if (host.empty()) return true;
  // The operator's patterns, against the whole value first ('*' accepts anything), then against the name alone.
  std::vector<std::string> patterns;
  for (const auto& pattern : allowed) {
    std::string p = pattern;
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::tolower(c); });
    patterns.push_back(std::move(p));
  }
  std::string with_port(host);
  std::transform(with_port.begin(), with_port.end(), with_port.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& p : patterns) {
    if (glob_match(p, with_port)) return true;
  }
  // The name without its port: "[::1]:11434" -> "::1", "localhost:11434" -> "localhost".
  std::string name;
  const bool bracketed = host.starts_with("[");  // an IPv6 literal, never a name
  if (bracketed) {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || !is_port(rest.substr(1)))) return false;
    name = std::string(host.substr(1, close - 1));
  } else {
    const size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      if (host.find(':', colon + 1) != std::string_view::npos) return false;  // an IPv6 address needs brackets
      if (!is_port(host.substr(colon + 1))) return false;
    }
    name = std::string(host.substr(0, colon));
  }
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!bracketed && name.ends_with(".")) name.pop_back();  // "localhost." is the same name
  // A host name or an address, nothing else (a NUL or a space would cut the name short for inet_pton).
  const bool plain = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == ':' || c == '_';
  });
  if (!plain) return false;
  if (!bracketed && (name == "localhost" || (name.size() > 10 && name.ends_with(".localhost")))) return true;
  if (is_loopback_host(name) && name != "localhost") {
    // 127.0.0.0/8 and ::1 as literals only: "127.evil.example" is a name, not an address.
    in6_addr a6{};
    in_addr a4{};
    if (bracketed ? inet_pton(AF_INET6, name.c_str(), &a6) == 1 : inet_pton(AF_INET, name.c_str(), &a4) == 1) return true;
  }
  char self[256] = {};
  if (!bracketed && gethostname(self, sizeof self - 1) == 0 && self[0] != '\0') {
    std::string me(self);
    std::transform(me.begin(), me.end(), me.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name == me) return true;
  }
  for (const auto& p : patterns) {
    if (glob_match(p, name)) return true;
  }
  return false;
}

std::optional<ContentLengthRefusal> check_content_length(std::string_view value, uint64_t limit) {
  const std::string_view v = trim(value);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && ec == std::errc::result_out_of_range) n = UINT64_MAX;  // more than any limit
  else if (!digits || ec != std::errc() || end != v.data() + v.size()) {
    return ContentLengthRefusal{400, "Content-Length: expected a number of bytes, found '" + std::string(value.substr(0, 64)) + "'"};
  }
  if (n > limit) {
    return ContentLengthRefusal{413, "request body is larger than the limit of " + std::to_string(limit) +
                                         " bytes (LOCUS_MAX_REQUEST_BYTES)"};
  }
  return std::nullopt;
}

}  // namespace locus::server
