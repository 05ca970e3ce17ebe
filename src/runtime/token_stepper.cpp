#include "runtime/token_stepper.h"

#include <algorithm>
#include <string>

namespace locus::runtime {

TokenStepper::TokenStepper(const TokenText& text, int32_t n_vocab, std::span<const int32_t> suppress_tokens)
    : text_(text), sampler_(SamplingOptions{}, n_vocab, suppress_tokens), masked_(static_cast<size_t>(n_vocab)) {}

void TokenStepper::start(const SamplingOptions& options, TokenConstraint* constraint, int32_t loop_guard_tokens,
                         bool logprobs, int32_t top_logprobs) {
  sampler_.set_options(options);
  stops_.reset();
  stops_.set_stops(options.stop);
  utf8_.reset();
  loop_guard_.reset(loop_guard_tokens);
  constraint_ = constraint;
  budget_told_ = false;
  num_predict_ = options.num_predict;
  want_logprobs_ = logprobs || top_logprobs > 0;
  top_logprobs_ = top_logprobs;
}

void TokenStepper::emit(std::string_view bytes, GenerateSink& sink) {
  if (bytes.empty()) return;
  const std::string_view text = utf8_.feed(bytes);
  if (!text.empty()) sink.on_text(text);
}

void TokenStepper::finish(const GenerateResult& result, GenerateSink& sink) {
  emit(stops_.flush(), sink);
  utf8_.finish();
  sink.on_done(result);
}

int32_t TokenStepper::step(std::span<const float> logits, std::span<const int32_t> history, int32_t pos,
                           int32_t n_ctx, GenerateSink& sink, GenerateResult& result) {
  if (constraint_ != nullptr && !budget_told_) {
    // The first token is drawn at `pos`, and drawing goes on while pos < n_ctx (see the end of this function),
    // so the context leaves n_ctx - pos + 1 tokens.
    int32_t budget = std::max(n_ctx - pos + 1, 1);
    if (num_predict_ > 0) budget = std::min(budget, num_predict_ - result.eval_count);
    constraint_->set_token_budget(budget);
    budget_told_ = true;
  }
  // Penalties see the prompt too, as in llama.cpp's server and Ollama's llama.cpp runner.
  int32_t token = sampler_.sample(logits, history);
  if (constraint_ != nullptr && token >= 0 && !constraint_->allows(token)) {
    std::copy(logits.begin(), logits.end(), masked_.begin());
    constraint_->mask(masked_);
    token = sampler_.sample(masked_, history);
    if (token < 0) {
      result.reason = DoneReason::error;
      result.error = "the output constraint allows no token after " + std::to_string(result.eval_count) +
                     " tokens (the model gives every allowed token zero probability)";
      return -1;
    }
  }
  if (token < 0) {
    result.reason = DoneReason::error;
    result.error = "the model produced no finite logits after " + std::to_string(result.eval_count) + " tokens";
    return -1;
  }
  ++result.eval_count;
  if (constraint_ != nullptr) constraint_->accept(token);
  if (text_.is_eog(token)) {
    result.reason = DoneReason::stop;
    result.stop_token = token;
    return -1;
  }
  if (want_logprobs_) {
    sampler_.logprobs(logits, token, top_logprobs_, logprobs_);
    sink.on_token(token, &logprobs_);
  } else {
    sink.on_token(token, nullptr);
  }
  const StopMatcher::Result matched = stops_.feed(text_.piece(token));
  emit(matched.text, sink);
  if (matched.stopped) {
    result.reason = DoneReason::stop;
    result.stop_index = matched.stop_index;
    return -1;
  }
  if (loop_guard_.feed(token)) {
    result.reason = DoneReason::repetition;
    result.loop_period = loop_guard_.period();
    return -1;
  }
  if (num_predict_ > 0 && result.eval_count >= num_predict_) {
    result.reason = DoneReason::length;
    return -1;
  }
  if (pos >= n_ctx) {  // no room to evaluate this token, so nothing more can be predicted
    result.reason = DoneReason::length;
    return -1;
  }
  return token;
}

}  // namespace locus::runtime
