// Token sampling with Ollama's options: penalties, top-k, typical, top-p, min-p, temperature, seeded draw.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "runtime/sampling_options.h"

namespace locus::runtime {

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.0f;
};

// Log-probabilities for one generated token. Fixed size so that filling it allocates nothing.
struct TokenLogprobs {
  TokenLogprob chosen;
  std::array<TokenLogprob, kMaxTopLogprobs> top_storage{};
  int32_t n_top = 0;
  std::span<const TokenLogprob> top() const { return {top_storage.data(), static_cast<size_t>(n_top)}; }
};

// One candidate token during sampling. `p` holds probabilities once a stage has computed them; after
// sample() the surviving candidates carry the final distribution (after temperature) the draw used.
struct SamplerCandidate {
  int32_t id;
  float logit;
  float p;
  float score;  // scratch for typical sampling
};

// Sampler applies, in this order (llama.cpp's common_sampler default chain, which is what Ollama runs when
// it serves a model through llama.cpp, and the only chain that honours every Ollama option):
//
//   suppress tokens (-inf) -> penalties (repeat, frequency, presence over the last repeat_last_n tokens)
//   -> top_k -> typical_p -> top_p -> min_p -> temperature -> draw from softmax
//
// Ollama's own Go sampler (sample/samplers.go) differs: it has no penalties or typical_p and it divides by the
// temperature before top_p/min_p. With llama.cpp's order top_p, min_p and typical_p see the temperature-1
// distribution, so changing the temperature reshapes the kept set without changing which tokens are in it.
// temperature == 0 is greedy: the argmax of the logits after suppression and penalties (the truncation
// stages cannot change an argmax, except typical_p, which we deliberately skip there).
//
// Formulas follow llama.cpp (src/llama-sampler.cpp):
//   repeat: logit > 0 ? logit / repeat_penalty : logit * repeat_penalty   (once per distinct token)
//   then    logit -= count * frequency_penalty + (count > 0) * presence_penalty
//   top_p:  keep the smallest prefix (by logit) whose probability mass reaches top_p (>=)
//   min_p:  keep tokens with logit >= max_logit + ln(min_p), i.e. p >= min_p * p_max
//   typical: sort by |-ln p - H|, keep the smallest prefix whose mass exceeds typical_p (>)
//
// Determinism: the same seed, logits and history give the same token on every run of the same build.
// Every ordering uses a total order (logit descending, then id ascending), so no step depends on how the
// standard library breaks ties. The generator is std::mt19937_64 (its output is fixed by the C++ standard);
// a draw is u = (next() >> 11) * 2^-53, uniform in [0, 1), and selects the first candidate, in the order
// the chain left them, whose running sum of probabilities exceeds u times their total (inverse CDF). This is
// spelled out because std::discrete_distribution and std::uniform_real_distribution are free to differ
// between standard libraries.
//
// Buffers for the whole vocabulary are allocated once in the constructor; sample() and logprobs()
// allocate nothing and take no lock. One Sampler serves one sequence at a time.
class Sampler {
 public:
  Sampler(const SamplingOptions& options, int32_t n_vocab, std::span<const int32_t> suppress_tokens = {});

  // Takes new options (keeping the buffers) and reseeds, as for a new request.
  void set_options(const SamplingOptions& options);

  // Reseeds: the same seed again, or a newly drawn random one when options.seed == -1.
  void reset();

  // The seed in use (the drawn one when options.seed == -1), for logs and reproduction.
  uint64_t seed() const { return seed_; }

  int32_t n_vocab() const { return n_vocab_; }

  // Picks the next token. `logits` has n_vocab entries (not modified); `history` is the sequence so far
  // (prompt and generated tokens) whose last repeat_last_n tokens the penalties look at. NaN logits count
  // as -inf. Returns -1 when no token has a finite logit (a broken model), which the caller reports.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // Log-probabilities of `chosen` and of the n_top most likely tokens, from log-softmax of the raw logits
  // (before suppression, penalties, truncation and temperature). That is what Ollama reports
  // (runner/common/logprob.go CalculateLogprobs) and what llama.cpp's server reports by default
  // (n_probs without post_sampling_probs), so values match theirs for the same logits.
  // n_top is clamped to [0, kMaxTopLogprobs]; ties go to the lower token id.
  void logprobs(std::span<const float> logits, int32_t chosen, int32_t n_top, TokenLogprobs& out) const;

  // The candidates that survived the last sample() with their final probabilities, in draw order.
  // Empty after a greedy sample. For tests and debugging.
  std::span<const SamplerCandidate> last_candidates() const { return {candidates_.data(), size_}; }

 private:
  void apply_penalties(std::span<const int32_t> history);
  void sort_prefix(size_t k);
  // Fills p over [0, size_); returns the sum of exp(logit - max) before normalising, and the max.
  double softmax(float* max_out = nullptr);
  void apply_top_k();
  void apply_typical();
  void apply_top_p();
  bool apply_top_p_by_buckets(float max_logit);
  void apply_min_p();
  void apply_temperature();
  int32_t draw();

  SamplingOptions options_;
  int32_t n_vocab_;
  std::vector<int32_t> suppress_;
  std::vector<SamplerCandidate> candidates_;
  std::vector<int32_t> counts_;  // per-token counts in the penalty window; all zero between calls
  std::vector<SamplerCandidate> boundary_;  // top_p's boundary bucket (bounded; see sampler.cpp)
  std::vector<double> bucket_mass_;
  std::vector<uint32_t> bucket_count_;
  size_t size_ = 0;              // live candidates
  size_t sorted_ = 0;            // candidates_[0, sorted_) are sorted and no later one ranks above them
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace locus::runtime
