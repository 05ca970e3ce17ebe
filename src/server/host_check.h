// Checks on a request's header that need nothing but the header and the server's settings, kept free of
// other dependencies so that the fuzz target (tests/fuzz/http_header_fuzz.cpp) builds them alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locus::server {

// 127.0.0.0/8, ::1 and "localhost": the addresses only this machine reaches.
bool is_loopback_host(std::string_view host);

// '*' in a pattern matches any run of characters; everything else matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

// DNS rebinding: a web page whose name is made to resolve to 127.0.0.1 reaches a loopback server with its own
// name in Host. While listening on loopback (`listen_host`), only local names are accepted: no Host (HTTP/1.0),
// localhost and *.localhost, loopback addresses (127.0.0.0/8 and [::1], with or without a port), this machine's
// host name, and the patterns in `allowed` (LOCUS_ALLOWED_HOSTS, matched case-insensitively against the name
// with and without its port; '*' accepts any). Listening on another address, the operator has chosen to be
// reached by other names, and every Host is accepted.
bool host_allowed(std::string_view listen_host, const std::vector<std::string>& allowed, std::string_view host_header);

// A Content-Length header's value against a body limit: nothing when the body may be read, else the HTTP status
// (400 not a number of bytes, 413 over the limit) and a message saying what was expected and what was found.
struct ContentLengthRefusal {
  int status = 0;
  std::string message;
};
std::optional<ContentLengthRefusal> check_content_length(std::string_view value, uint64_t limit);

}  // namespace locus::server
