// Detects repetition collapse: generation that has fallen into repeating the same tokens (a run of newlines,
// one phrase again and again, `1,1,1,...` under a JSON constraint) and would otherwise fill the context.
#pragma once

#include <array>
#include <cstdint>

namespace locus::runtime {

// Generation is a loop when its last L tokens repeat with some period p <= kMaxPeriod, where
// L >= max(min_tokens, 3 * p): at min_tokens = 256 that is 256 copies of one token, 64 copies of a 4-token
// phrase, 4 copies of a 64-token sentence, 3 copies of a 200-token paragraph. Text people ask for rarely repeats
// that exactly, while a collapsed model never leaves such a cycle. Cost: one comparison per period per token,
// no allocation (a fixed ring of the last kMaxPeriod tokens and a run length per period).
class RepetitionGuard {
 public:
  static constexpr int32_t kMaxPeriod = 256;
  static constexpr int32_t kDefaultMinTokens = 256;

  // min_tokens <= 0 disables the guard (feed() then never reports a loop).
  explicit RepetitionGuard(int32_t min_tokens = kDefaultMinTokens) { reset(min_tokens); }

  void reset(int32_t min_tokens);

  // Adds the next generated token; true when the generation has become a loop.
  bool feed(int32_t token);

  // After feed() returned true: the period found and the tokens it spans.
  int32_t period() const { return period_; }
  int32_t span() const { return span_; }

 private:
  int32_t min_tokens_ = kDefaultMinTokens;
  int64_t count_ = 0;                               // tokens fed since reset
  std::array<int32_t, kMaxPeriod> ring_{};          // token i at ring_[i % kMaxPeriod]
  std::array<int32_t, kMaxPeriod + 1> run_{};       // run_[p]: consecutive latest tokens equal to the one p back
  int32_t period_ = 0;
  int32_t span_ = 0;
};

}  // namespace locus::runtime
