#include "runtime/utf8_stream.h"

#include <cstdint>

namespace locus::runtime {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// For a lead byte: how many continuation bytes follow and the allowed range of the first one (which
// excludes overlong forms, surrogates and code points above U+10FFFF). need < 0: not a lead byte.
struct Lead {
  int need;
  uint8_t lo;
  uint8_t hi;
};

Lead classify(uint8_t c) {
  if (c >= 0xC2 && c <= 0xDF) return {1, 0x80, 0xBF};
  if (c == 0xE0) return {2, 0xA0, 0xBF};
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return {2, 0x80, 0xBF};
  if (c == 0xED) return {2, 0x80, 0x9F};
  if (c == 0xF0) return {3, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {3, 0x80, 0xBF};
  if (c == 0xF4) return {3, 0x80, 0x8F};
  return {-1, 0, 0};
}

}  // namespace

Utf8Stream::Utf8Stream() {
  input_.reserve(256);
  out_.reserve(256);
}

void Utf8Stream::reset() {
  pending_.clear();
  input_.clear();
  out_.clear();
}

std::string_view Utf8Stream::feed(std::string_view bytes) {
  std::string_view in = bytes;
  if (!pending_.empty()) {
    input_.assign(pending_);
    input_.append(bytes);
    pending_.clear();
    in = input_;
  }
  out_.clear();
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const auto c = static_cast<uint8_t>(in[i]);
    if (c < 0x80) {
      // Copy a run of ASCII at once.
      size_t j = i + 1;
      while (j < n && static_cast<uint8_t>(in[j]) < 0x80) ++j;
      out_.append(in.substr(i, j - i));
      i = j;
      continue;
    }
    const Lead lead = classify(c);
    if (lead.need < 0) {
      out_.append(kReplacement);
      ++i;
      continue;
    }
    int j = 1;
    bool bad = false;
    for (; j <= lead.need; ++j) {
      if (i + static_cast<size_t>(j) >= n) break;
      const auto b = static_cast<uint8_t>(in[i + static_cast<size_t>(j)]);
      const uint8_t lo = j == 1 ? lead.lo : 0x80;
      const uint8_t hi = j == 1 ? lead.hi : 0xBF;
      if (b < lo || b > hi) {
        bad = true;
        break;
      }
    }
    if (bad) {
      out_.append(kReplacement);  // the lead and the valid continuations so far
      i += static_cast<size_t>(j);
      continue;
    }
    if (j <= lead.need) {
      pending_.assign(in.substr(i));  // valid so far, unfinished: wait for more bytes
      break;
    }
    out_.append(in.substr(i, static_cast<size_t>(lead.need) + 1));
    i += static_cast<size_t>(lead.need) + 1;
  }
  return out_;
}

}  // namespace locus::runtime
