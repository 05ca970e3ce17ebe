#include "runtime/repetition_guard.h"

#include <algorithm>

namespace locus::runtime {

void RepetitionGuard::reset(int32_t min_tokens) {
  min_tokens_ = min_tokens;
  count_ = 0;
  run_.fill(0);
  period_ = 0;
  span_ = 0;
}

bool RepetitionGuard::feed(int32_t token) {
  if (min_tokens_ <= 0) return false;
  const int64_t i = count_;
  bool looping = false;
  const int32_t max_p = static_cast<int32_t>(std::min<int64_t>(kMaxPeriod, i));
  for (int32_t p = 1; p <= max_p; ++p) {
    const int32_t back = ring_[static_cast<size_t>((i - p) % kMaxPeriod)];
    if (back != token) {
      run_[static_cast<size_t>(p)] = 0;
      continue;
    }
    const int32_t run = ++run_[static_cast<size_t>(p)];
    // The last run + p tokens are p-periodic. Report the shortest period that qualifies.
    const int32_t span = run + p;
    if (!looping && span >= std::max(min_tokens_, 3 * p)) {
      looping = true;
      period_ = p;
      span_ = span;
    }
  }
  ring_[static_cast<size_t>(i % kMaxPeriod)] = token;
  ++count_;
  return looping;
}

}  // namespace locus::runtime
