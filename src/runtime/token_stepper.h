// The per-token part of generation, shared by Generator (one request at a time) and Scheduler (many at once):
// draw the next token from the logits (under a constraint when there is one), report it, stream its text through
// the stop strings and UTF-8 assembly, and decide whether generation ends there.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/generator.h"

namespace locus::runtime {

class TokenStepper {
 public:
  // Buffers for the vocabulary are made here, once; nothing per token.
  TokenStepper(const TokenText& text, int32_t n_vocab, std::span<const int32_t> suppress_tokens);

  // Prepares for a request (validated before). Sampler reseeded, stop strings set, loop guard reset.
  void start(const SamplingOptions& options, TokenConstraint* constraint, int32_t loop_guard_tokens,
             bool logprobs, int32_t top_logprobs);
  uint64_t seed() const { return sampler_.seed(); }

  // Takes the logits after the last evaluated token. Returns the token to evaluate next, or -1 when generation
  // has ended, with result.reason (and stop_index, stop_token, loop_period, error) set; eval_count counts every
  // token drawn. `history` is the sequence so far (for the penalties); `pos` the position the returned token
  // would be evaluated at and `n_ctx` the positions available.
  int32_t step(std::span<const float> logits, std::span<const int32_t> history, int32_t pos, int32_t n_ctx,
               GenerateSink& sink, GenerateResult& result);

  // Releases held-back text (it never became a stop string) and calls sink.on_done(result).
  void finish(const GenerateResult& result, GenerateSink& sink);

 private:
  void emit(std::string_view bytes, GenerateSink& sink);

  const TokenText& text_;
  Sampler sampler_;
  StopMatcher stops_;
  Utf8Stream utf8_;
  RepetitionGuard loop_guard_;
  std::vector<float> masked_;  // the logits with a constraint's refused tokens at -inf
  TokenLogprobs logprobs_;
  TokenConstraint* constraint_ = nullptr;
  bool budget_told_ = false;  // constraint_->set_token_budget called for this request
  int32_t num_predict_ = -1;
  bool want_logprobs_ = false;
  int32_t top_logprobs_ = 0;
};

}  // namespace locus::runtime
