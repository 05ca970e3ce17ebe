#include "text/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "text/utf8_stream_decoder.h"

namespace locus::text {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string llama_decode_all(std::string_view s) {
  std::string out;
  for (size_t at = 0; at < s.size();) append_utf8(out, next_code_point_llama(s, at));
  return out;
}

TEST(Utf8, AppendWritesShortestForms) {
  std::string s;
  for (char32_t cp : {0x24u, 0xA2u, 0x20ACu, 0x10348u, 0xD800u}) append_utf8(s, cp);
  EXPECT_EQ(s, "\x24\xC2\xA2\xE2\x82\xAC\xF0\x90\x8D\x88\xED\xA0\x80");
  s.clear();
  append_utf8(s, 0x110000);
  EXPECT_EQ(s, kFffd);
}

TEST(Utf8, LlamaRuleChecksOnlyTheContinuationPattern) {
  // Overlong and surrogate forms decode to their code point (and are written back shortest).
  EXPECT_EQ(llama_decode_all("\xC1\xA1"), "a");
  EXPECT_EQ(llama_decode_all("\xE0\x80\xAF"), "/");
  EXPECT_EQ(llama_decode_all("\xED\xA0\x80"), "\xED\xA0\x80");
  // Failures consume one byte each.
  EXPECT_EQ(llama_decode_all("\x80"), kFffd);
  EXPECT_EQ(llama_decode_all("\xC3" "a"), kFffd + "a");
  EXPECT_EQ(llama_decode_all("\xE2\x96"), kFffd + kFffd);
  EXPECT_EQ(llama_decode_all("\xF0\x9F\x98"), kFffd + kFffd + kFffd);
  EXPECT_EQ(llama_decode_all("\xFF\xFE"), kFffd + kFffd);
  // A lead byte F5..F7 with three continuations decodes to a value above U+10FFFF.
  size_t at = 0;
  EXPECT_GT(next_code_point_llama("\xF5\x80\x80\x80", at), char32_t{0x10FFFF});
  EXPECT_EQ(at, 4u);
}

TEST(Utf8, ValidityFollowsUnicode) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xF0\x9F\xA6\x99"));
  EXPECT_FALSE(is_valid_utf8("\xC1\xA1"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x96"));          // cut short
}

TEST(Utf8, SanitizeReplacesEachMaximalSubpart) {
  // The example of the Unicode Standard, section 3.9 (U+FFFD substitution of maximal subparts).
  EXPECT_EQ(sanitize_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  EXPECT_EQ(sanitize_utf8("\xE0\x80\xAF"), kFffd + kFffd + kFffd);  // E0 80 is no prefix of anything
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), kFffd);  // one unfinished prefix
  EXPECT_EQ(sanitize_utf8("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
}

TEST(Utf8StreamDecoder, HoldsBackAnUnfinishedCharacterUntilItsLastByte) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("caf\xC3"), "caf");
  EXPECT_EQ(d.pending_bytes(), 1u);
  EXPECT_EQ(d.push("\xA9!"), "\xC3\xA9!");
  const std::string llama = "\xF0\x9F\xA6\x99";
  for (size_t i = 0; i + 1 < llama.size(); ++i) EXPECT_EQ(d.push(llama.substr(i, 1)), "");
  EXPECT_EQ(d.push(llama.substr(3)), llama);
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8StreamDecoder, InvalidBytesComeOutAsSoonAsTheyAreKnownBad) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("\xFF"), kFffd);                 // can never start a character
  EXPECT_EQ(d.push("\xE2"), "");                    // may still become one
  EXPECT_EQ(d.push("("), kFffd + "(");              // now it cannot
  EXPECT_EQ(d.push("\xE2\x82"), "");
  EXPECT_EQ(d.push("\xC3\xA9"), kFffd + "\xC3\xA9");
  EXPECT_EQ(d.push("\xF0\x9F\x98"), "");
  EXPECT_EQ(d.flush(), kFffd);                      // the end of the stream settles it
  EXPECT_EQ(d.pending_bytes(), 0u);
  EXPECT_EQ(d.push("\xBF\xBF"), kFffd + kFffd);     // stray continuation bytes
}

TEST(Utf8StreamDecoder, AnySplitOfAnyBytesGivesTheSanitizedWhole) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a", " ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\xA6\x99", "\x80", "\xC3",
                                  "\xE0\x80", "\xED\xA0", "\xF4\x90", "\xFF", "\xF0\x9F"};
  for (int trial = 0; trial < 2000; ++trial) {
    std::string all;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) all += alphabet[rng() % std::size(alphabet)];
    Utf8StreamDecoder d;
    std::string out;
    for (size_t at = 0; at < all.size();) {
      const size_t len = std::min<size_t>(all.size() - at, rng() % 4);
      const std::string piece = d.push(all.substr(at, len));
      EXPECT_TRUE(is_valid_utf8(piece));
      EXPECT_LE(d.pending_bytes(), 3u);
      out += piece;
      at += len;
    }
    out += d.flush();
    ASSERT_EQ(out, sanitize_utf8(all)) << "trial " << trial;
  }
}

}  // namespace
}  // namespace locus::text
