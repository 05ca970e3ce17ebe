// Standard base64 (RFC 4648 §4, the alphabet with + and /, padded): how both APIs carry media bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace locus::server {

// The decoded bytes, or an error saying what is wrong and at which offset. Strict: only the standard alphabet,
// length a multiple of 4 and '=' padding only at the end. CR and LF are skipped, as Go's decoder (Ollama's)
// skips them, since MIME-wrapped base64 is common. Unused low bits of the last character are not checked
// (Go does not check them either).
struct Base64Result {
  std::optional<std::string> bytes;
  std::string error;  // when !bytes: "invalid character '%' at offset 12", ...
};
Base64Result decode_base64(std::string_view text);

std::string encode_base64(std::string_view bytes);

}  // namespace locus::server
