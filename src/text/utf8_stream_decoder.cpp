#include "text/utf8_stream_decoder.h"

#include "text/utf8.h"

namespace locus::text {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace

void Utf8StreamDecoder::reset_sequence() {
  n_held_ = 0;
  n_needed_ = 0;
  lower_ = 0x80;
  upper_ = 0xBF;
}

void Utf8StreamDecoder::push_into(std::string& out, std::string_view bytes) {
  out.reserve(out.size() + bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (n_needed_ == 0) {
      // Runs of ASCII are the common case; copy them in one go.
      if (b < 0x80) {
        size_t j = i + 1;
        while (j < bytes.size() && static_cast<uint8_t>(bytes[j]) < 0x80) ++j;
        out.append(bytes.substr(i, j - i));
        i = j;
        continue;
      }
      if (b >= 0xC2 && b <= 0xDF) {
        n_needed_ = 2;
      } else if (b >= 0xE0 && b <= 0xEF) {
        n_needed_ = 3;
        if (b == 0xE0) lower_ = 0xA0;  // below would be an overlong form
        if (b == 0xED) upper_ = 0x9F;  // above would be a surrogate
      } else if (b >= 0xF0 && b <= 0xF4) {
        n_needed_ = 4;
        if (b == 0xF0) lower_ = 0x90;  // overlong
        if (b == 0xF4) upper_ = 0x8F;  // above U+10FFFF
      } else {
        out.append(kReplacement);  // can never start a character
        ++i;
        continue;
      }
      held_[n_held_++] = static_cast<char>(b);
      ++i;
      continue;
    }
    if (b < lower_ || b > upper_) {
      // The held prefix cannot be completed: it is one maximal subpart. `b` is looked at again as a start.
      out.append(kReplacement);
      reset_sequence();
      continue;
    }
    held_[n_held_++] = static_cast<char>(b);
    lower_ = 0x80;
    upper_ = 0xBF;
    ++i;
    if (n_held_ == n_needed_) {
      out.append(held_, n_held_);
      reset_sequence();
    }
  }
}

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  std::string out;
  push_into(out, bytes);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  std::string out;
  if (n_held_ > 0) out.append(kReplacement);
  reset_sequence();
  return out;
}

}  // namespace locus::text
