// RFC 9110's `token` (the characters of header field names, media types and parameter names), shared by the
// parsers of Content-Type parameters (multipart.cpp) and data: URIs (data_uri.cpp).
#pragma once

#include <cctype>
#include <string_view>

namespace locus::server {

inline bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

inline bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

}  // namespace locus::server
