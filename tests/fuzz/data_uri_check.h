// The invariants the data: URI and base64 parsers (src/server/data_uri.h, base64.h) must keep on any input,
// shared by the libFuzzer target (data_uri_fuzz.cpp) and the corpus replay test (server_parsers_corpus_test.cpp).
//
// Input: any bytes, read as a media URL (an OpenAI image_url.url). Checked:
// - parse_data_uri gives a URI (non-empty bytes, a lower-case type of no blanks, the URL classified as data:,
//   and make_data_uri of it parsing back to the same) or a one-line error starting with "expected";
// - decode_base64 of the same bytes gives bytes that encode and decode back to themselves, or a one-line error;
//   encode_base64 of the input decodes back to the input.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/base64.h"
#include "server/data_uri.h"

namespace locus::fuzz {

inline bool one_line(const std::string& s) {
  return !s.empty() && s.find('\n') == std::string::npos && s.find('\r') == std::string::npos;
}

// "" when every invariant holds, else what broke.
inline std::string check_data_uri(const uint8_t* data, size_t size) {
  using namespace server;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const DataUriResult r = parse_data_uri(in);
  if (r.uri) {
    if (!r.error.empty()) return "a URI with an error";
    if (r.uri->bytes.empty()) return "a URI without bytes";
    if (classify_media_url(in) != MediaUrlKind::kData) return "a data: URI not classified as one";
    for (unsigned char c : r.uri->mime) {
      if (std::isupper(c) || c <= 0x20 || c >= 0x7f) return "a type that is not lower-case printable";
    }
    const DataUriResult back = parse_data_uri(make_data_uri(r.uri->mime, r.uri->bytes));
    if (!back.uri || back.uri->bytes != r.uri->bytes || back.uri->mime != r.uri->mime) return "URI does not round-trip";
  } else if (!one_line(r.error) || r.error.rfind("expected", 0) != 0) {
    return "URI error not one line starting with 'expected': " + r.error;
  }

  const Base64Result b = decode_base64(in);
  if (b.bytes) {
    const Base64Result again = decode_base64(encode_base64(*b.bytes));
    if (!again.bytes || *again.bytes != *b.bytes) return "decoded bytes do not round-trip";
  } else if (!one_line(b.error)) {
    return "base64 error not one line: " + b.error;
  }
  const Base64Result raw = decode_base64(encode_base64(in));
  if (!raw.bytes || *raw.bytes != in) return "encoded input does not decode back";
  return "";
}

}  // namespace locus::fuzz
