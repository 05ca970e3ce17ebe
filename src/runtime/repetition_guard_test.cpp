// The loop guard: repeated cycles of any period up to kMaxPeriod are caught once they span enough tokens, and
// ordinary text (including long but not exactly periodic runs) is not.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "runtime/repetition_guard.h"

namespace locus::runtime {
namespace {

// Feeds `tokens`; returns the index (0-based) of the token that made the guard fire, or -1.
int64_t first_fire(RepetitionGuard& g, const std::vector<int32_t>& tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (g.feed(tokens[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

std::vector<int32_t> random_tokens(size_t n, uint64_t seed, int32_t vocab = 50000) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> out(n);
  for (auto& t : out) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return out;
}

TEST(RepetitionGuard, OneTokenRepeatedFiresAfterMinTokens) {
  RepetitionGuard g(256);
  std::vector<int32_t> tokens = random_tokens(40, 1);
  const size_t lead = tokens.size();
  tokens.insert(tokens.end(), 1000, 7);
  const int64_t at = first_fire(g, tokens);
  // 256 copies of token 7 (the first copy plus 255 that equal the one before).
  ASSERT_EQ(at, static_cast<int64_t>(lead + 255));
  EXPECT_EQ(g.period(), 1);
  EXPECT_EQ(g.span(), 256);
}

TEST(RepetitionGuard, EveryPeriodUpToTheMaximumIsCaught) {
  for (int32_t p : {2, 3, 7, 64, 100, 200, 256}) {
    RepetitionGuard g(256);
    const std::vector<int32_t> cycle = random_tokens(static_cast<size_t>(p), 100 + static_cast<uint64_t>(p));
    std::vector<int32_t> tokens = random_tokens(30, 5);
    const size_t lead = tokens.size();
    const int64_t need = std::max<int64_t>(256, 3 * p);  // tokens of periodic output before it fires
    for (int64_t rep = 0; rep < need / p + 2; ++rep) tokens.insert(tokens.end(), cycle.begin(), cycle.end());
    const int64_t at = first_fire(g, tokens);
    ASSERT_EQ(at, static_cast<int64_t>(lead) + need - 1) << "period " << p;
    EXPECT_EQ(g.period(), p);
  }
}

TEST(RepetitionGuard, PeriodsBeyondTheMaximumAreNotReported) {
  RepetitionGuard g(256);
  const std::vector<int32_t> cycle = random_tokens(300, 9);
  std::vector<int32_t> tokens;
  for (int rep = 0; rep < 6; ++rep) tokens.insert(tokens.end(), cycle.begin(), cycle.end());
  EXPECT_EQ(first_fire(g, tokens), -1);
}

TEST(RepetitionGuard, VariedTextNeverFires) {
  RepetitionGuard g(256);
  EXPECT_EQ(first_fire(g, random_tokens(20000, 3, 200)), -1);
}

TEST(RepetitionGuard, ABreakInTheCycleRestartsTheCount) {
  RepetitionGuard g(256);
  std::vector<int32_t> tokens(200, 5);
  tokens.push_back(6);
  tokens.insert(tokens.end(), 200, 5);
  EXPECT_EQ(first_fire(g, tokens), -1);
  // 56 more copies make 256 in a row after the break.
  EXPECT_EQ(first_fire(g, std::vector<int32_t>(56, 5)), 55);
}

TEST(RepetitionGuard, ZeroDisablesAndResetForgets) {
  RepetitionGuard off(0);
  EXPECT_EQ(first_fire(off, std::vector<int32_t>(5000, 1)), -1);
  RepetitionGuard g(16);
  EXPECT_EQ(first_fire(g, std::vector<int32_t>(15, 1)), -1);
  g.reset(16);
  EXPECT_EQ(first_fire(g, std::vector<int32_t>(15, 1)), -1);
  EXPECT_EQ(first_fire(g, std::vector<int32_t>(1, 1)), 0);
}

}  // namespace
}  // namespace locus::runtime
