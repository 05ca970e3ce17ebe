// Media URLs as OpenAI-style clients send them: `data:` URIs (RFC 2397) carrying base64 bytes, and what any
// other URL is (a remote http(s) URL, a local file://, something else), so that the parsers can say why it is
// refused.
//
//   DataUriResult r = parse_data_uri("data:image/png;base64,iVBOR...");
//   if (!r.uri) error = path + ": " + r.error;   // r.error starts with "expected"
//
// Pure functions of their input, no allocation beyond the result; safe on any bytes (fuzzed by
// tests/fuzz/data_uri_fuzz.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace locus::server {

struct DataUri {
  std::string mime;   // the declared media type, lower-cased ("image/png"); empty for "data:;base64,..."
  std::string bytes;  // decoded
};

// The URI or, when it is not one, `error`: one line "expected ..., found ..." (no field path; the caller adds
// it). Accepted: "data:" (any case), an optional media type `type/subtype` of RFC 7230 token characters,
// optional `;attribute=value` parameters (token or quoted-string values; a `charset` or a file `name` some
// clients add), then ";base64" (any case), a comma and strict standard base64 (base64.h: CR and LF are
// skipped). Refused: no comma, no ";base64" (percent-encoded data is never media), a malformed media type or
// parameter, invalid base64, and no bytes at all. The declared type is not checked against the bytes: the
// media layer identifies content by its bytes.
struct DataUriResult {
  std::optional<DataUri> uri;
  std::string error;
};
DataUriResult parse_data_uri(std::string_view text);

// What kind of URL a media field holds, from its scheme (case-insensitive).
enum class MediaUrlKind {
  kData,    // data:
  kRemote,  // http:// or https://
  kFile,    // file: (never read: a client must not make the server read its files)
  kOther,   // anything else, including text with no scheme
};
MediaUrlKind classify_media_url(std::string_view url);

// "data:<mime>;base64,<base64 of bytes>".
std::string make_data_uri(std::string_view mime, std::string_view bytes);

}  // namespace locus::server
