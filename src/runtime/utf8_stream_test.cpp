// Token pieces that split characters come out as whole, valid UTF-8.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/utf8_stream.h"

namespace locus::runtime {
namespace {

// Independent strict validator (RFC 3629).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string decode_all(const std::vector<std::string>& pieces) {
  Utf8Stream u;
  std::string out;
  for (const auto& p : pieces) {
    const auto chunk = u.feed(p);
    EXPECT_TRUE(valid_utf8(chunk)) << "chunk is not valid UTF-8";
    out.append(chunk);
  }
  u.finish();
  return out;
}

TEST(Utf8Stream, ValidTextSurvivesEverySplit) {
  const std::string text = "h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8E\x89!";  // "héllo 世界 🎉!"
  ASSERT_TRUE(valid_utf8(text));
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      ASSERT_EQ(decode_all({text.substr(0, i), text.substr(i, j - i), text.substr(j)}), text) << i << "," << j;
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(decode_all(bytes), text);
}

TEST(Utf8Stream, HoldsAnUnfinishedCharacter) {
  Utf8Stream u;
  EXPECT_EQ(u.feed("a\xE4"), "a");
  EXPECT_TRUE(u.has_pending());
  EXPECT_EQ(u.feed("\xB8"), "");
  EXPECT_EQ(u.feed("\x96z"), "\xE4\xB8\x96z");
  EXPECT_FALSE(u.has_pending());
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(decode_all({"\xFF"}), r);
  EXPECT_EQ(decode_all({"a\xC3("}), "a" + r + "(");
  EXPECT_EQ(decode_all({"\xC0\xAF"}), r + r);             // overlong
  EXPECT_EQ(decode_all({"\xED\xA0\x80"}), r + r + r);     // surrogate
  EXPECT_EQ(decode_all({"\xF4\x90\x80\x80"}), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(decode_all({"\xE2\x82", "A"}), r + "A");      // unfinished, then ASCII
  EXPECT_EQ(decode_all({"\x80\x80x"}), r + r + "x");      // stray continuation bytes
  EXPECT_EQ(decode_all({"\xF0\x9F\x8E", "\xF0\x9F\x8E\x89"}), r + "\xF0\x9F\x8E\x89");
}

TEST(Utf8Stream, FinishDropsAnUnfinishedTail) {
  Utf8Stream u;
  EXPECT_EQ(u.feed("ok\xF0\x9F"), "ok");
  u.finish();
  EXPECT_FALSE(u.has_pending());
  EXPECT_EQ(u.feed("x"), "x");
}

}  // namespace
}  // namespace locus::runtime
