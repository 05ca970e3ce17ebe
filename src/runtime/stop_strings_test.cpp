// Stop strings never reach the output, however the text is split into token pieces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/stop_strings.h"

namespace locus::runtime {
namespace {

struct Outcome {
  std::string output;
  bool stopped = false;
  int32_t stop_index = -1;
};

// What streaming must produce: the text up to the first stop to complete (earliest end, then longest).
Outcome reference(const std::string& text, const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best = std::string::npos;
    int32_t index = -1;
    for (size_t s = 0; s < stops.size(); ++s) {
      const std::string& stop = stops[s];
      if (stop.empty() || stop.size() > end) continue;
      if (text.compare(end - stop.size(), stop.size(), stop) == 0 && end - stop.size() < best) {
        best = end - stop.size();
        index = static_cast<int32_t>(s);
      }
    }
    if (index >= 0) return {text.substr(0, best), true, index};
  }
  return {text, false, -1};
}

Outcome run(const std::vector<std::string>& pieces, const std::vector<std::string>& stops) {
  StopMatcher m(stops);
  Outcome o;
  for (const auto& piece : pieces) {
    const auto r = m.feed(piece);
    o.output.append(r.text);
    if (r.stopped) {
      o.stopped = true;
      o.stop_index = r.stop_index;
      EXPECT_TRUE(m.feed("more").text.empty());  // stays stopped
      return o;
    }
  }
  o.output.append(m.flush());
  return o;
}

// Splits `text` at every subset of byte positions (all 2^(n-1) ways for short texts).
void expect_every_split(const std::string& text, const std::vector<std::string>& stops) {
  ASSERT_LE(text.size(), 16u);
  const Outcome want = reference(text, stops);
  const uint32_t n_masks = text.empty() ? 1u : 1u << (text.size() - 1);
  for (uint32_t mask = 0; mask < n_masks; ++mask) {
    std::vector<std::string> pieces;
    std::string cur;
    for (size_t i = 0; i < text.size(); ++i) {
      cur.push_back(text[i]);
      if (i + 1 < text.size() && (mask >> i & 1u)) {
        pieces.push_back(cur);
        cur.clear();
      }
    }
    pieces.push_back(cur);
    const Outcome got = run(pieces, stops);
    ASSERT_EQ(got.output, want.output) << "text '" << text << "' split mask " << mask;
    ASSERT_EQ(got.stopped, want.stopped) << "text '" << text << "' split mask " << mask;
    ASSERT_EQ(got.stop_index, want.stop_index) << "text '" << text << "' split mask " << mask;
  }
}

TEST(StopMatcher, SingleStopAtEverySplit) {
  expect_every_split("Hi STOP there", {"STOP"});
  expect_every_split("STOPnow", {"STOP"});
  expect_every_split("end: STOP", {"STOP"});
  EXPECT_EQ(reference("Hi STOP there", {"STOP"}).output, "Hi ");
}

TEST(StopMatcher, TextWithoutStopsComesOutWhole) {
  expect_every_split("no stop here", {"STOP"});
  expect_every_split("almost STO", {"STOP"});  // a held prefix is released at the end
  expect_every_split("SSTOSTP", {"STOP"});
  EXPECT_EQ(run({"almost ", "STO"}, {"STOP"}).output, "almost STO");
}

TEST(StopMatcher, SelfOverlappingStops) {
  expect_every_split("aaab", {"aab"});
  expect_every_split("abababc", {"ababc"});
  expect_every_split("<<en<end>x", {"<end>"});
  EXPECT_EQ(reference("aaab", {"aab"}).output, "a");
  EXPECT_EQ(reference("abababc", {"ababc"}).output, "ab");
}

TEST(StopMatcher, SeveralStops) {
  expect_every_split("abc\n\nUser: x", {"###", "\n\nUser:"});
  expect_every_split("x###\n\nUser:", {"\n\nUser:", "###"});
  EXPECT_EQ(reference("x###\n\nUser:", {"\n\nUser:", "###"}).stop_index, 1);
}

TEST(StopMatcher, OverlappingStopsFirstToCompleteWins) {
  // "bc" completes before "abcd" could, whatever the pieces.
  expect_every_split("xabcd", {"abcd", "bc"});
  EXPECT_EQ(reference("xabcd", {"abcd", "bc"}).output, "xa");
  // Both end on the same byte: the longer one cuts earlier.
  expect_every_split("zabc", {"bc", "abc"});
  EXPECT_EQ(reference("zabc", {"bc", "abc"}).output, "z");
  // One stop is a prefix of another: the shorter completes first.
  expect_every_split("zabc", {"abc", "ab"});
  EXPECT_EQ(reference("zabc", {"abc", "ab"}).output, "z");
  EXPECT_EQ(reference("zabc", {"abc", "ab"}).stop_index, 1);
}

TEST(StopMatcher, MultiByteStopsSplitInsideCharacters) {
  expect_every_split("x→y", {"→"});                    // 3-byte character
  expect_every_split("で終わり!", {"終わ"});            // 6 bytes of stop after 3 of text
  expect_every_split("ok🎉🎉", {"🎉"});                 // 4-byte character
  expect_every_split("é→é", {"é→"});
  EXPECT_EQ(reference("で終わり!", {"終わ"}).output, "で");
}

TEST(StopMatcher, LongerTexts) {
  const std::string text = "The answer is 42.\nQ: next";
  const std::vector<std::string> stops = {"\nQ:", "</s>"};
  // Every single and double split point.
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      const auto got = run({text.substr(0, i), text.substr(i, j - i), text.substr(j)}, stops);
      ASSERT_EQ(got.output, "The answer is 42.") << i << "," << j;
      ASSERT_TRUE(got.stopped);
      ASSERT_EQ(got.stop_index, 0);
    }
  }
}

TEST(StopMatcher, EmptyStopsAreIgnoredAndIndicesRefertoTheCallersList) {
  const auto got = run({"a", "bXc"}, {"", "X"});
  EXPECT_EQ(got.output, "ab");
  EXPECT_EQ(got.stop_index, 1);
  StopMatcher none(std::vector<std::string>{""});
  EXPECT_FALSE(none.active());
  EXPECT_EQ(none.feed("text").text, "text");
}

TEST(StopMatcher, HoldsOnlyWhatCouldStillBecomeAStop) {
  StopMatcher m(std::vector<std::string>{"STOP"});
  EXPECT_EQ(m.feed("abc S").text, "abc ");
  EXPECT_EQ(m.feed("T").text, "");
  EXPECT_EQ(m.feed("x").text, "STx");
  EXPECT_EQ(m.feed("STO").text, "");
  const auto r = m.feed("P tail");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, ResetStartsOver) {
  StopMatcher m(std::vector<std::string>{"X"});
  EXPECT_TRUE(m.feed("aX").stopped);
  m.reset();
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.feed("b").text, "b");
}

}  // namespace
}  // namespace locus::runtime
