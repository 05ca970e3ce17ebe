// The invariants the multipart/form-data parser (src/server/multipart.h) must keep on any input, shared by the
// libFuzzer target (multipart_fuzz.cpp) and the corpus replay test (server_parsers_corpus_test.cpp).
//
// Input layout: the bytes up to the first '\n' (when it comes within 200 bytes) are a Content-Type header
// value and the rest is the body; without such a '\n' the whole input is the body. The header goes through multipart_boundary; the body is parsed with the boundary it gives, or with
// "xyz" when it gives none (so that bodies are fuzzed whatever the header), under small limits (8 parts, 256
// header bytes, 512 field bytes, 4096 file bytes) so that every limit is reached. Checked:
// - an error is one line starting with "Content-Type: " (boundary) or "multipart body: " (body), with no parts;
// - a boundary is 1 to 70 bchars not ending in a space, and reads back from a header that quotes it;
// - parts are within the limits, their data are views into the body, their name, file name and type hold no
//   control characters, and writing them back gives a body that parses to the same parts.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/multipart.h"

namespace locus::fuzz {

inline bool one_line_with_prefix(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0 && s.find('\n') == std::string::npos && s.find('\r') == std::string::npos;
}

inline bool printable_header_text(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

inline bool same_parts(const server::MultipartResult& a, const server::MultipartResult& b) {
  if (a.parts.size() != b.parts.size()) return false;
  for (size_t i = 0; i < a.parts.size(); ++i) {
    const auto &x = a.parts[i], &y = b.parts[i];
    if (x.name != y.name || x.filename != y.filename || x.content_type != y.content_type || x.data != y.data) return false;
  }
  return true;
}

// "" when every invariant holds, else what broke.
inline std::string check_multipart(const uint8_t* data, size_t size) {
  using namespace server;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const bool has_header = nl != std::string_view::npos && nl <= 200;
  const std::string_view header = has_header ? in.substr(0, nl) : std::string_view();
  const std::string_view body = has_header ? in.substr(nl + 1) : in;

  const BoundaryResult b = multipart_boundary(header);
  std::string boundary = "xyz";
  if (!b.error.empty()) {
    if (!b.boundary.empty()) return "a boundary with an error";
    if (!one_line_with_prefix(b.error, "Content-Type: ")) return "boundary error not one line: " + b.error;
  } else {
    if (b.boundary.empty() || b.boundary.size() > 70 || b.boundary.back() == ' ') return "bad boundary accepted";
    for (unsigned char c : b.boundary) {
      if (!(std::isalnum(c) || std::string_view("'()+_,-./:=? ").find(static_cast<char>(c)) != std::string_view::npos)) {
        return "boundary with a character outside bchars";
      }
    }
    const BoundaryResult again = multipart_boundary("multipart/form-data; boundary=\"" + b.boundary + "\"");
    if (again.boundary != b.boundary) return "boundary does not read back from a quoted header";
    boundary = b.boundary;
  }

  MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_header_bytes = 256;
  limits.max_field_bytes = 512;
  limits.max_file_bytes = 4096;
  const MultipartResult r = parse_multipart(body, boundary, limits);
  if (!r.ok()) {
    if (!r.parts.empty()) return "parts with an error";
    if (!one_line_with_prefix(r.error, "multipart body: ")) return "body error not one line: " + r.error;
    return "";
  }
  if (r.parts.size() > limits.max_parts) return "more parts than the limit";
  for (const MultipartPart& p : r.parts) {
    if (p.data.data() < body.data() || p.data.data() + p.data.size() > body.data() + body.size()) {
      return "part data outside the body";
    }
    if (p.data.size() > (p.filename ? limits.max_file_bytes : limits.max_field_bytes)) return "part over its limit";
    if (!printable_header_text(p.name) || !printable_header_text(p.filename.value_or("")) ||
        !printable_header_text(p.content_type)) {
      return "control characters in a part's header values";
    }
  }
  const std::string written = write_multipart(r.parts, boundary);
  MultipartLimits loose = limits;
  loose.max_header_bytes = 4096;  // escaping can lengthen a header
  const MultipartResult back = parse_multipart(written, boundary, loose);
  if (!back.ok()) return "written parts do not parse: " + back.error;
  if (!same_parts(r, back)) return "written parts parse differently";
  return "";
}

}  // namespace locus::fuzz
