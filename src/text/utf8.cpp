#include "text/utf8.h"

#include "text/utf8_stream_decoder.h"

namespace locus::text {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    append_utf8(out, kReplacementChar);
  }
}

char32_t next_code_point_llama(std::string_view text, size_t& offset) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[offset + i]); };
  const auto continues = [&](size_t i) { return offset + i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(0);
  if (lead < 0x80) {
    offset += 1;
    return lead;
  }
  // The lead byte alone decides the length; only the 10xxxxxx pattern of what follows is checked.
  if ((lead & 0xE0) == 0xC0 && continues(1)) {
    const char32_t cp = (char32_t{lead & 0x1Fu} << 6) | (byte(1) & 0x3Fu);
    offset += 2;
    return cp;
  }
  if ((lead & 0xF0) == 0xE0 && continues(1) && continues(2)) {
    const char32_t cp = (char32_t{lead & 0x0Fu} << 12) | (char32_t{byte(1) & 0x3Fu} << 6) | (byte(2) & 0x3Fu);
    offset += 3;
    return cp;
  }
  if ((lead & 0xF8) == 0xF0 && continues(1) && continues(2) && continues(3)) {
    const char32_t cp = (char32_t{lead & 0x07u} << 18) | (char32_t{byte(1) & 0x3Fu} << 12) |
                        (char32_t{byte(2) & 0x3Fu} << 6) | (byte(3) & 0x3Fu);
    offset += 4;
    return cp;
  }
  offset += 1;  // a stray continuation byte, F8..FF, or a sequence cut short
  return kReplacementChar;
}

bool is_valid_utf8(std::string_view text) {
  Utf8StreamDecoder decoder;
  std::string out;
  decoder.push_into(out, text);
  return decoder.pending_bytes() == 0 && out.size() == text.size() && out == text;
}

std::string sanitize_utf8(std::string_view text) {
  Utf8StreamDecoder decoder;
  std::string out;
  decoder.push_into(out, text);
  out += decoder.flush();
  return out;
}

}  // namespace locus::text
