// multipart/form-data bodies (RFC 7578 on RFC 2046's multipart syntax), as OpenAI's file-upload endpoints
// take them (POST /v1/audio/transcriptions).
//
//   BoundaryResult b = multipart_boundary(request.header("Content-Type"));
//   if (!b.error.empty()) return 400 with b.error;
//   MultipartResult m = parse_multipart(request.body, b.boundary);
//   if (!m.ok()) return 400 with m.error;
//   for (const MultipartPart& p : m.parts) ... p.name, p.filename, p.content_type, p.data
//
// The whole body is in memory (the server's body limit bounds it); parts are views into it, never copies.
// Strict where a sloppy reading would be ambiguous: lines end in CRLF, each part has a Content-Disposition
// of type form-data with a name, and the boundary after a part must be followed by CRLF (another part) or "--"
// (the end). Linear in the body's size whatever its bytes. Every error is one line, "multipart body: ..."
// saying what was expected and what was found (fuzzed by tests/fuzz/multipart_fuzz.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locus::server {

// The boundary from a Content-Type header: "multipart/form-data; boundary=XYZ" (type and parameter names in
// any case, the value a token or a quoted-string, 1 to 70 characters of RFC 2046's bchars, not ending in a
// space). `error` is set (one line) for another type or a missing or malformed boundary.
struct BoundaryResult {
  std::string boundary;
  std::string error;
};
BoundaryResult multipart_boundary(std::string_view content_type);

struct MultipartLimits {
  size_t max_parts = 64;
  size_t max_header_bytes = 8 * 1024;  // one part's header block
  size_t max_field_bytes = 1 << 20;    // a part without a filename (a form field)
  size_t max_file_bytes = static_cast<size_t>(-1);  // a part with a filename; the body limit bounds it anyway
};

struct MultipartPart {
  std::string name;                     // Content-Disposition's name
  std::optional<std::string> filename;  // Content-Disposition's filename, when given (possibly empty)
  std::string content_type;             // as sent, trimmed; empty when absent (text/plain by RFC 7578)
  std::string_view data;                // the part's bytes, a view into the body
};

struct MultipartResult {
  std::vector<MultipartPart> parts;  // in body order
  std::string error;                 // empty when the body parsed
  bool ok() const { return error.empty(); }
};

// A preamble before the first boundary and an epilogue after the last are ignored (RFC 2046). Header names
// are case-insensitive; headers other than Content-Disposition and Content-Type are ignored. Quoted parameter
// values take backslash escapes (curl's form); `filename*` (RFC 5987) is ignored.
MultipartResult parse_multipart(std::string_view body, std::string_view boundary, const MultipartLimits& limits = {});

// The inverse, for tests and fuzz checks: a body that parse_multipart reads back as `parts` (names and file
// names quoted with backslash escapes).
std::string write_multipart(const std::vector<MultipartPart>& parts, std::string_view boundary);

}  // namespace locus::server
