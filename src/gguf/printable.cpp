#include "gguf/printable.h"

#include <cstdio>

namespace locus::gguf {

std::string printable(std::string_view text) {
  constexpr size_t kMaxBytes = 100;
  size_t cut = text.size();
  if (cut > kMaxBytes) {
    cut = kMaxBytes;
    // Back up to a UTF-8 character boundary so the message stays valid text.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0u) == 0x80u) --cut;
  }
  std::string out;
  out.reserve(cut + 8);
  for (size_t i = 0; i < cut; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut < text.size()) out += "...";
  return out;
}

}  // namespace locus::gguf
