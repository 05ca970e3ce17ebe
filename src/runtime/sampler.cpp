#include "runtime/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace locus::runtime {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// top_p over a large unsorted set buckets the candidates by logit instead of sorting them all.
constexpr size_t kBuckets = 1024;
constexpr float kBucketSpan = 32.0f;  // logits below max - 32 (p < 1.3e-14 * p_max) share the last bucket
constexpr size_t kBoundaryCapacity = 8192;
constexpr size_t kSortThreshold = 2048;  // below this, sorting is cheap enough

// Logit descending, then id ascending: a total order, so sorts give the same result everywhere.
bool ranks_above(const SamplerCandidate& a, const SamplerCandidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

// NaN would break the sorts' strict weak ordering; +inf would make exp() produce NaN.
float sanitize(float logit) {
  if (std::isnan(logit)) return kNegInf;
  if (logit == std::numeric_limits<float>::infinity()) return 1e30f;
  return logit;
}

uint64_t random_seed() {
  std::random_device device;
  const uint64_t hi = device();
  const uint64_t lo = device();
  return (hi << 32) ^ lo;
}

}  // namespace

Sampler::Sampler(const SamplingOptions& options, int32_t n_vocab, std::span<const int32_t> suppress_tokens)
    : options_(options),
      n_vocab_(n_vocab),
      candidates_(static_cast<size_t>(std::max(n_vocab, 1))),
      counts_(static_cast<size_t>(std::max(n_vocab, 1)), 0),
      boundary_(kBoundaryCapacity),
      bucket_mass_(kBuckets),
      bucket_count_(kBuckets) {
  assert(n_vocab > 0);
  for (int32_t id : suppress_tokens) {
    if (id >= 0 && id < n_vocab) suppress_.push_back(id);
  }
  reset();
}

void Sampler::set_options(const SamplingOptions& options) {
  options_ = options;
  reset();
}

void Sampler::reset() {
  seed_ = options_.seed == -1 ? random_seed() : static_cast<uint64_t>(options_.seed);
  rng_.seed(seed_);
  size_ = 0;
  sorted_ = 0;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  assert(logits.size() == static_cast<size_t>(n_vocab_));
  const size_t n = std::min(logits.size(), static_cast<size_t>(n_vocab_));
  for (size_t i = 0; i < n; ++i) {
    candidates_[i] = {static_cast<int32_t>(i), sanitize(logits[i]), 0.0f, 0.0f};
  }
  size_ = n;
  sorted_ = 0;
  // Until a stage reorders them, candidates_[id].id == id, so suppression and penalties index directly.
  for (int32_t id : suppress_) candidates_[static_cast<size_t>(id)].logit = kNegInf;
  apply_penalties(history);

  if (options_.temperature <= 0.0f) {
    size_t best = 0;
    for (size_t i = 1; i < size_; ++i) {
      if (candidates_[i].logit > candidates_[best].logit) best = i;  // strict: ties keep the lower id
    }
    const bool ok = size_ > 0 && candidates_[best].logit != kNegInf;
    const int32_t token = ok ? candidates_[best].id : -1;
    size_ = 0;
    return token;
  }

  apply_top_k();
  apply_typical();
  apply_top_p();
  apply_min_p();
  apply_temperature();
  return draw();
}

void Sampler::apply_penalties(std::span<const int32_t> history) {
  const bool active = options_.repeat_penalty != 1.0f || options_.frequency_penalty != 0.0f ||
                      options_.presence_penalty != 0.0f;
  if (!active || options_.repeat_last_n == 0 || history.empty()) return;
  size_t window = history.size();
  if (options_.repeat_last_n > 0) window = std::min(window, static_cast<size_t>(options_.repeat_last_n));
  const std::span<const int32_t> recent = history.last(window);

  for (int32_t id : recent) {
    if (id >= 0 && id < n_vocab_) ++counts_[static_cast<size_t>(id)];
  }
  // Second pass applies each distinct token once and zeroes its count, leaving counts_ clean.
  for (int32_t id : recent) {
    if (id < 0 || id >= n_vocab_) continue;
    int32_t& count = counts_[static_cast<size_t>(id)];
    if (count == 0) continue;
    float& logit = candidates_[static_cast<size_t>(id)].logit;
    // Dividing a negative logit would raise it; llama.cpp multiplies those instead.
    if (logit <= 0.0f) {
      logit *= options_.repeat_penalty;
    } else {
      logit /= options_.repeat_penalty;
    }
    logit -= static_cast<float>(count) * options_.frequency_penalty + options_.presence_penalty;
    count = 0;
  }
}

// Extends the sorted prefix to k candidates. Valid because nothing after the prefix ranks above it.
void Sampler::sort_prefix(size_t k) {
  k = std::min(k, size_);
  if (k <= sorted_) return;
  const auto first = candidates_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  std::partial_sort(first, candidates_.begin() + static_cast<std::ptrdiff_t>(k),
                    candidates_.begin() + static_cast<std::ptrdiff_t>(size_), ranks_above);
  sorted_ = k;
}

double Sampler::softmax(float* max_out) {
  float max_logit = kNegInf;
  if (sorted_ > 0) {
    max_logit = candidates_[0].logit;
  } else {
    for (size_t i = 0; i < size_; ++i) max_logit = std::max(max_logit, candidates_[i].logit);
  }
  if (max_out != nullptr) *max_out = max_logit;
  if (max_logit == kNegInf) {
    for (size_t i = 0; i < size_; ++i) candidates_[i].p = 0.0f;
    return 0.0;
  }
  double sum = 0.0;
  for (size_t i = 0; i < size_; ++i) {
    const float e = std::exp(candidates_[i].logit - max_logit);
    candidates_[i].p = e;
    sum += e;
  }
  const double inv = 1.0 / sum;
  for (size_t i = 0; i < size_; ++i) candidates_[i].p = static_cast<float>(candidates_[i].p * inv);
  return sum;
}

void Sampler::apply_top_k() {
  if (options_.top_k <= 0 || static_cast<size_t>(options_.top_k) >= size_) return;
  const size_t k = static_cast<size_t>(options_.top_k);
  sort_prefix(k);
  size_ = k;
}

void Sampler::apply_typical() {
  if (options_.typical_p >= 1.0f || size_ <= 1) return;
  softmax();
  double entropy = 0.0;
  for (size_t i = 0; i < size_; ++i) {
    const float p = candidates_[i].p;
    if (p > 0.0f) entropy -= static_cast<double>(p) * std::log(static_cast<double>(p));
  }
  for (size_t i = 0; i < size_; ++i) {
    const float p = candidates_[i].p;
    candidates_[i].score = p > 0.0f ? static_cast<float>(std::fabs(-std::log(static_cast<double>(p)) - entropy))
                                    : std::numeric_limits<float>::infinity();
  }
  const auto end = candidates_.begin() + static_cast<std::ptrdiff_t>(size_);
  std::sort(candidates_.begin(), end, [](const SamplerCandidate& a, const SamplerCandidate& b) {
    if (a.score != b.score) return a.score < b.score;
    return ranks_above(a, b);
  });
  double cumulative = 0.0;
  size_t keep = size_;
  for (size_t i = 0; i < size_; ++i) {
    cumulative += candidates_[i].p;
    if (cumulative > options_.typical_p) {
      keep = i + 1;
      break;
    }
  }
  size_ = keep;
  sorted_ = 0;  // now ordered by typicality, not by logit
}

void Sampler::apply_top_p() {
  if (options_.top_p >= 1.0f || size_ <= 1) return;
  float max_logit = kNegInf;
  softmax(&max_logit);
  if (sorted_ < size_ && size_ > kSortThreshold && max_logit != kNegInf && apply_top_p_by_buckets(max_logit)) {
    return;
  }
  // Sort lazily: the nucleus is usually a few hundred tokens even when top_k is off.
  size_t k = std::min<size_t>(size_, 256);
  sort_prefix(k);
  double cumulative = 0.0;
  for (size_t i = 0; i < size_; ++i) {
    if (i == k) {
      k = std::min(size_, k * 8);
      sort_prefix(k);
    }
    cumulative += candidates_[i].p;
    if (cumulative >= options_.top_p) {
      size_ = i + 1;
      return;
    }
  }
}

// The nucleus without sorting the whole vocabulary. Buckets of equal logit width, highest first, are
// summed until the mass reaches top_p; every token in an earlier bucket has a higher logit than any token
// in that boundary bucket, so the sorted-prefix definition of the nucleus is: all earlier buckets, then the
// boundary bucket's tokens in sorted order up to the point where the mass reaches top_p. Only the boundary
// bucket is sorted. The kept set is the one sorting everything would keep; the order differs (earlier
// buckets stay in id order), which the draw, being deterministic, does not mind. Returns false (nothing
// changed) when the boundary bucket is too big for its buffer; the caller then sorts.
bool Sampler::apply_top_p_by_buckets(float max_logit) {
  const float inv_width = static_cast<float>(kBuckets - 1) / kBucketSpan;
  auto bucket_of = [&](float logit) {
    const float d = (max_logit - logit) * inv_width;  // >= 0; +inf for -inf logits
    return d < static_cast<float>(kBuckets - 1) ? static_cast<size_t>(d) : kBuckets - 1;
  };
  std::fill(bucket_mass_.begin(), bucket_mass_.end(), 0.0);
  std::fill(bucket_count_.begin(), bucket_count_.end(), 0u);
  for (size_t i = 0; i < size_; ++i) {
    const size_t b = bucket_of(candidates_[i].logit);
    bucket_mass_[b] += candidates_[i].p;
    ++bucket_count_[b];
  }
  size_t boundary = kBuckets;
  double mass_before = 0.0;
  for (size_t b = 0; b < kBuckets; ++b) {
    if (mass_before + bucket_mass_[b] >= options_.top_p) {
      boundary = b;
      break;
    }
    mass_before += bucket_mass_[b];
  }
  if (boundary == kBuckets) return true;  // rounding: the whole mass never reached top_p, keep everything
  if (bucket_count_[boundary] > boundary_.size()) return false;

  size_t kept = 0;
  size_t n_boundary = 0;
  for (size_t i = 0; i < size_; ++i) {
    const size_t b = bucket_of(candidates_[i].logit);
    if (b < boundary) {
      candidates_[kept++] = candidates_[i];
    } else if (b == boundary) {
      boundary_[n_boundary++] = candidates_[i];
    }
  }
  const auto first = boundary_.begin();
  std::sort(first, first + static_cast<std::ptrdiff_t>(n_boundary), ranks_above);
  double cumulative = mass_before;
  for (size_t j = 0; j < n_boundary; ++j) {
    candidates_[kept++] = boundary_[j];
    cumulative += boundary_[j].p;
    if (cumulative >= options_.top_p) break;
  }
  size_ = kept;
  sorted_ = 0;
  return true;
}

void Sampler::apply_min_p() {
  if (options_.min_p <= 0.0f || size_ <= 1) return;
  float max_logit = kNegInf;
  if (sorted_ > 0) {
    max_logit = candidates_[0].logit;
  } else {
    for (size_t i = 0; i < size_; ++i) max_logit = std::max(max_logit, candidates_[i].logit);
  }
  const float threshold = max_logit + std::log(options_.min_p);
  // Stable compaction keeps the order, so the sorted prefix stays sorted: the survivors from it are its own
  // leading part, and every other survivor still ranks at or below them.
  size_t kept = 0;
  size_t kept_sorted = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (candidates_[i].logit >= threshold) {
      if (i < sorted_) ++kept_sorted;
      candidates_[kept++] = candidates_[i];
    }
  }
  if (kept == 0) kept = 1;  // only when every logit is -inf; the draw reports it
  size_ = kept;
  sorted_ = std::min(kept_sorted, size_);
}

// Scales relative to the best logit, so a tiny temperature (1 / t = inf) still gives 0 for the best token and
// -inf for the rest instead of inf - inf = NaN: it becomes greedy, as it should.
void Sampler::apply_temperature() {
  float max_logit = kNegInf;
  for (size_t i = 0; i < size_; ++i) max_logit = std::max(max_logit, candidates_[i].logit);
  if (max_logit == kNegInf) return;  // the draw reports it
  const float inv_temperature = 1.0f / options_.temperature;
  for (size_t i = 0; i < size_; ++i) {
    const float d = candidates_[i].logit - max_logit;
    candidates_[i].logit = d == 0.0f ? 0.0f : d * inv_temperature;
  }
}

int32_t Sampler::draw() {
  if (size_ == 0 || !(softmax() > 0.0)) {
    size_ = 0;
    return -1;
  }
  double total = 0.0;
  for (size_t i = 0; i < size_; ++i) total += candidates_[i].p;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double cumulative = 0.0;
  size_t chosen = size_;
  size_t last_nonzero = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (candidates_[i].p <= 0.0f) continue;
    last_nonzero = i;
    cumulative += candidates_[i].p;
    if (cumulative > target) {
      chosen = i;
      break;
    }
  }
  if (chosen == size_) chosen = last_nonzero;  // rounding left the target just past the end
  return candidates_[chosen].id;
}

void Sampler::logprobs(std::span<const float> logits, int32_t chosen, int32_t n_top, TokenLogprobs& out) const {
  float max_logit = kNegInf;
  for (float l : logits) max_logit = std::max(max_logit, sanitize(l));
  double sum = 0.0;
  if (max_logit != kNegInf) {
    for (float l : logits) sum += std::exp(sanitize(l) - max_logit);
  }
  const double log_z = max_logit == kNegInf ? 0.0 : max_logit + std::log(sum);
  auto logprob_of = [&](float logit) {
    const float l = sanitize(logit);
    return l == kNegInf ? kNegInf : static_cast<float>(static_cast<double>(l) - log_z);
  };

  out.chosen = {chosen, -std::numeric_limits<float>::infinity()};
  if (chosen >= 0 && static_cast<size_t>(chosen) < logits.size()) {
    out.chosen.logprob = logprob_of(logits[static_cast<size_t>(chosen)]);
  }

  // Top n by insertion into a small sorted array: one pass, no allocation.
  const int32_t want = std::clamp<int32_t>(n_top, 0, std::min<int32_t>(kMaxTopLogprobs, static_cast<int32_t>(logits.size())));
  int32_t have = 0;
  auto& top = out.top_storage;
  auto above = [](const TokenLogprob& a, const TokenLogprob& b) {
    return a.logprob != b.logprob ? a.logprob > b.logprob : a.token < b.token;
  };
  if (want > 0) {
    for (size_t i = 0; i < logits.size(); ++i) {
      const TokenLogprob item{static_cast<int32_t>(i), sanitize(logits[i])};  // rank by raw logit first
      if (have == want && !above(item, top[static_cast<size_t>(want - 1)])) continue;
      int32_t j = have < want ? have++ : want - 1;
      while (j > 0 && above(item, top[static_cast<size_t>(j - 1)])) {
        top[static_cast<size_t>(j)] = top[static_cast<size_t>(j - 1)];
        --j;
      }
      top[static_cast<size_t>(j)] = item;
    }
  }
  for (int32_t j = 0; j < have; ++j) {
    auto& t = top[static_cast<size_t>(j)];
    t.logprob = t.logprob == kNegInf ? kNegInf : static_cast<float>(static_cast<double>(t.logprob) - log_z);
  }
  out.n_top = have;
}

}  // namespace locus::runtime
