// Fetching media that a client named by an http(s) URL, for a server started with LOCUS_ALLOW_MEDIA_URLS=1
// (off by default: then such requests are refused). A client must not be able to make the server reach what
// only the server can reach, so:
//
// - only http and https, no proxy (the environment's http_proxy is ignored), no redirects (a 3xx is an error:
//   following one would need every hop checked, and media URLs rarely redirect);
// - every address libcurl connects to is checked at the moment it opens the socket (CURLOPT_OPENSOCKETFUNCTION),
//   after name resolution: loopback, private, link-local, shared (CGNAT), multicast, reserved and unspecified
//   addresses are refused, also when embedded in IPv6 (v4-mapped, NAT64, 6to4). Checking the socket's address
//   rather than a separate lookup leaves no window for DNS rebinding;
// - a size limit (checked against Content-Length and again as bytes arrive) and a time limit on the whole
//   transfer; no decompression (Accept-Encoding is not sent, so a small answer cannot inflate);
// - credentials in the URL (user:password@) are refused.
//
// Blocking; call from a worker thread. Thread-safe (one libcurl easy handle per call; curl_global_init is
// done once, thread-safely, on first use).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace locus::server {

struct MediaFetchOptions {
  size_t max_bytes = size_t{64} << 20;
  std::chrono::milliseconds timeout{30'000};          // the whole transfer
  std::chrono::milliseconds connect_timeout{10'000};
  // For tests only, which serve media on 127.0.0.1: also allow loopback addresses (127.0.0.0/8, ::1). Never set
  // from the environment or a flag: a server must not fetch from its own machine for a client.
  bool allow_loopback_for_tests = false;
};

struct MediaFetchResult {
  std::string bytes;
  std::string content_type;  // the answer's Content-Type, lower-cased, parameters dropped; may be empty
  std::optional<std::string> error;  // one line: why nothing was fetched ("... is a private address", "HTTP 404")
};

MediaFetchResult fetch_media_url(const std::string& url, const MediaFetchOptions& options);

// Whether an address may be fetched from: a public unicast IPv4 or IPv6 address (with `allow_loopback`, also
// loopback). `why` (when refused and not null) names the kind: "a loopback address", "a private address", ...
bool media_address_allowed(const sockaddr* address, bool allow_loopback, std::string* why = nullptr);

}  // namespace locus::server
