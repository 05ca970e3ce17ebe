#include "server/base64.h"

#include <array>
#include <cstdint>
#include <cstdio>

namespace locus::server {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kTable = make_table();

std::string printable(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", c);
  return buf;
}

}  // namespace

Base64Result decode_base64(std::string_view text) {
  Base64Result r;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t quad[4];
  int n = 0;        // characters in the current group of four
  int padding = 0;  // '=' seen in the current group
  bool padded = false;  // a group with '=' was completed: nothing may follow
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') continue;
    if (padded) {
      r.error = "data after the '=' padding at offset " + std::to_string(i);
      return r;
    }
    if (c == '=') {
      if (n < 2) {
        r.error = "misplaced '=' at offset " + std::to_string(i);
        return r;
      }
      ++padding;
      quad[n++] = 0;
    } else {
      const int8_t v = kTable[c];
      if (v < 0 || padding > 0) {
        r.error = (v < 0 ? "invalid character " + printable(c) : std::string("data after '='")) + " at offset " +
                  std::to_string(i);
        return r;
      }
      quad[n++] = static_cast<uint32_t>(v);
    }
    if (n == 4) {
      const uint32_t bits = quad[0] << 18 | quad[1] << 12 | quad[2] << 6 | quad[3];
      out += static_cast<char>(bits >> 16 & 0xff);
      if (padding < 2) out += static_cast<char>(bits >> 8 & 0xff);
      if (padding < 1) out += static_cast<char>(bits & 0xff);
      padded = padding > 0;
      n = 0;
    }
  }
  if (n != 0) {
    r.error = "length is not a multiple of 4 (missing '=' padding?)";
    return r;
  }
  r.bytes = std::move(out);
  return r;
}

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t b = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[b >> 18 & 63];
    out += kAlphabet[b >> 12 & 63];
    out += kAlphabet[b >> 6 & 63];
    out += kAlphabet[b & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t b = static_cast<uint8_t>(bytes[i]) << 16 | (two ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[b >> 18 & 63];
    out += kAlphabet[b >> 12 & 63];
    out += two ? kAlphabet[b >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace locus::server
