// libFuzzer target for what `locus serve` decides from a request header (src/server/host_check.h): raw bytes go
// through Boost.Beast's request parser set up as the HTTP core sets it up (64 KiB header limit), and the Host
// and Content-Length values it yields go through the DNS-rebinding check and the body-limit check. Invariants:
// on a non-loopback listener every Host is accepted; on loopback, an accepted Host (no extra names allowed)
// names localhost, a *.localhost name, a loopback literal or this machine; an accepted Content-Length is
// digits only and within the limit. A crash, a sanitizer report or a broken invariant is a bug.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>  // before Asio/Beast, as in the server

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/host_check.h"

namespace {

void fail(const char* what, const std::string& value) {
  std::fprintf(stderr, "http_header_fuzz: %s: '%s'\n", what, value.c_str());
  std::abort();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What an accepted Host may name, said independently of host_check.cpp's parsing.
bool names_this_machine(const std::string& host_header) {
  std::string h = lower(host_header);
  while (!h.empty() && std::isspace(static_cast<unsigned char>(h.front()))) h.erase(0, 1);
  while (!h.empty() && std::isspace(static_cast<unsigned char>(h.back()))) h.pop_back();
  if (h.empty()) return true;
  std::string name;
  const auto dotted_127 = [](const std::string& n) {
    return n.starts_with("127.") &&
           std::all_of(n.begin(), n.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
  };
  if (h.front() == '[') {
    name = h.substr(1, h.find(']') - 1);
    return name == "::1";
  }
  name = h.substr(0, h.find(':'));
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name == "localhost" || (name.size() > 10 && name.ends_with(".localhost"))) return true;
  if (dotted_127(name)) return true;
  char self[256] = {};
  return gethostname(self, sizeof self - 1) == 0 && name == lower(self);
}

void check_host(const std::string& host) {
  if (!locus::server::host_allowed("0.0.0.0", {}, host)) fail("refused on a non-loopback listener", host);
  if (locus::server::host_allowed("127.0.0.1", {}, host) && !names_this_machine(host)) {
    fail("accepted a name that is not this machine's", host);
  }
  if (!locus::server::host_allowed("127.0.0.1", {"*"}, host)) fail("refused with '*' allowed", host);
}

void check_length(const std::string& value, uint64_t limit) {
  const auto refused = locus::server::check_content_length(value, limit);
  if (refused) {
    if (refused->status != 400 && refused->status != 413) fail("unexpected status", value);
    return;
  }
  std::string v = value;
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail("accepted a Content-Length that is not a number", value);
  }
  const std::string digits = v.substr(std::min(v.find_first_not_of('0'), v.size()));
  const std::string lim = std::to_string(limit);
  if (digits.size() > lim.size() || (digits.size() == lim.size() && digits > lim)) {
    fail("accepted a Content-Length over the limit", value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::buffer_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  // The raw bytes as a value too: the checks must hold for any text, not only what the parser lets through.
  const std::string raw(reinterpret_cast<const char*>(data), std::min<size_t>(size, 300));
  check_host(raw);
  check_length(raw, 1000);
  if (!parser.is_header_done()) return 0;
  const auto& h = parser.get();
  for (const auto& f : h) {
    const std::string value(f.value());
    if (f.name() == http::field::host) check_host(value);
    if (f.name() == http::field::content_length) check_length(value, 64u << 20);
  }
  return 0;
}
