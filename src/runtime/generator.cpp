#include "runtime/generator.h"

#include "runtime/token_stepper.h"

#include <algorithm>
#include <chrono>
#include <exception>

namespace locus::runtime {

const char* done_reason_name(DoneReason reason) {
  switch (reason) {
    case DoneReason::stop: return "stop";
    case DoneReason::length: return "length";
    case DoneReason::cancelled: return "cancelled";
    case DoneReason::error: return "error";
    case DoneReason::repetition: return "repetition";
  }
  return "error";
}

Truncation plan_truncation(int32_t n_prompt, int32_t n_ctx, int32_t num_keep) {
  if (n_prompt <= n_ctx || n_ctx <= 0) return {0, 0};
  int32_t keep = num_keep < 0 ? n_prompt : num_keep;
  keep = std::min(keep, n_ctx - 1);
  return {keep, n_prompt - n_ctx};
}

namespace {

using Clock = std::chrono::steady_clock;

static_assert(std::atomic<bool>::is_always_lock_free, "cancellation must not take a lock per token");

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool cancelled(const GenerateRequest& request) {
  return request.cancel != nullptr && request.cancel->load(std::memory_order_relaxed);
}

GenerateResult error_result(std::string message) {
  GenerateResult r;
  r.reason = DoneReason::error;
  r.error = std::move(message);
  return r;
}

}  // namespace

std::optional<std::string> check_request(std::span<const int32_t> prompt, const SamplingOptions& options,
                                         int32_t top_logprobs, int32_t n_vocab, std::span<const MediaBlock> media) {
  if (auto problem = validate(options)) return problem;
  if (top_logprobs < 0 || top_logprobs > kMaxTopLogprobs) {
    return "top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " + std::to_string(top_logprobs);
  }
  if (prompt.empty()) return std::string("prompt is empty: nothing to generate from");
  if (!media.empty()) {
    if (auto problem = check_media_blocks(prompt, media)) return problem;
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    const int32_t id = prompt[i];
    if ((id < 0 && media.empty()) || id >= n_vocab) {
      return "prompt token " + std::to_string(i) + " is " + std::to_string(id) + ", outside the vocabulary [0, " +
             std::to_string(n_vocab) + ")";
    }
  }
  return std::nullopt;
}

std::optional<std::string> fit_prompt(std::span<const int32_t> prompt, int32_t n_ctx, bool truncate,
                                      int32_t num_keep, std::vector<int32_t>& tokens, Truncation& cut) {
  const int32_t n_prompt = static_cast<int32_t>(std::min<size_t>(prompt.size(), INT32_MAX));
  cut = {};
  if (n_prompt > n_ctx) {
    if (!truncate) {
      return "prompt is " + std::to_string(n_prompt) + " tokens, context is " + std::to_string(n_ctx) +
             " (num_ctx); shorten the prompt, raise num_ctx or allow truncation";
    }
    cut = plan_truncation(n_prompt, n_ctx, num_keep);
  }
  tokens.clear();
  tokens.insert(tokens.end(), prompt.begin(), prompt.begin() + cut.keep);
  tokens.insert(tokens.end(), prompt.begin() + cut.keep + cut.drop, prompt.end());
  return std::nullopt;
}

Generator::Generator(LanguageModel& model, const TokenText& text, std::span<const int32_t> suppress_tokens)
    : model_(model),
      stepper_(std::make_unique<TokenStepper>(text, model.n_vocab(), suppress_tokens)),
      logits_(static_cast<size_t>(model.n_vocab())) {}

Generator::~Generator() = default;

GenerateResult Generator::finish(GenerateResult result, GenerateSink& sink) {
  stepper_->finish(result, sink);
  return result;
}

GenerateResult Generator::generate(const GenerateRequest& request, GenerateSink& sink) {
  const Clock::time_point t_start = Clock::now();
  const SamplingOptions& options = request.options;
  stepper_->start(options, request.constraint, request.loop_guard_tokens, request.logprobs, request.top_logprobs);
  if (auto problem = check_request(request.prompt, options, request.top_logprobs, model_.n_vocab(), request.media)) {
    return finish(error_result(*problem), sink);
  }
  // The model's cache was sized when it was loaded; a larger num_ctx cannot be honoured here.
  const int32_t n_ctx = options.num_ctx > 0 ? std::min(options.num_ctx, model_.n_ctx()) : model_.n_ctx();
  tokens_.reserve(static_cast<size_t>(n_ctx) + 1);
  Truncation cut;
  if (!request.media.empty() && static_cast<int64_t>(request.prompt.size()) > n_ctx) {
    return finish(error_result("the prompt with its media is " + std::to_string(request.prompt.size()) +
                               " tokens, over the context of " + std::to_string(n_ctx) +
                               " (num_ctx); media cannot be cut: raise num_ctx or send less"),
                  sink);
  }
  if (auto problem = fit_prompt(request.prompt, n_ctx, request.truncate, options.num_keep, tokens_, cut)) {
    return finish(error_result(*problem), sink);
  }

  GenerateResult result;
  result.seed = stepper_->seed();
  result.prompt_tokens_dropped = cut.drop;
  const int32_t n_prompt = static_cast<int32_t>(tokens_.size());
  const int32_t n_batch = options.num_batch;

  int32_t pos = 0;
  size_t next_block = 0;
  try {
    model_.truncate(0);
    while (pos < n_prompt) {
      if (cancelled(request)) {
        result.reason = DoneReason::cancelled;
        result.prompt_eval_count = pos;
        result.prompt_eval_seconds = seconds_between(t_start, Clock::now());
        return finish(result, sink);
      }
      // The next media block, if any starts at or after pos: text stops at its start, and a block is one call.
      while (next_block < request.media.size() && request.media[next_block].offset < pos) ++next_block;
      if (next_block < request.media.size() && request.media[next_block].offset == pos) {
        const MediaBlock& b = request.media[next_block++];
        model_.eval_media(b, pos, logits_);
        pos += b.n;
        continue;
      }
      int32_t n = std::min(n_batch, n_prompt - pos);
      if (next_block < request.media.size()) n = std::min(n, request.media[next_block].offset - pos);
      model_.eval(std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(pos), static_cast<size_t>(n)),
                  pos, logits_);
      pos += n;
    }
  } catch (const std::exception& e) {
    GenerateResult r = error_result(std::string("prompt evaluation failed: ") + e.what());
    r.seed = result.seed;
    return finish(r, sink);
  }
  result.prompt_eval_count = n_prompt;
  const Clock::time_point t_prompt_done = Clock::now();
  result.prompt_eval_seconds = seconds_between(t_start, t_prompt_done);

  for (;;) {
    if (cancelled(request)) {
      result.reason = DoneReason::cancelled;
      break;
    }
    const int32_t token = stepper_->step(logits_, tokens_, pos, n_ctx, sink, result);
    if (token < 0) break;
    tokens_.push_back(token);
    try {
      model_.eval(std::span<const int32_t>(&tokens_.back(), 1), pos, logits_);
    } catch (const std::exception& e) {
      result.reason = DoneReason::error;
      result.error = std::string("token evaluation failed at position ") + std::to_string(pos) + ": " + e.what();
      break;
    }
    ++pos;
  }
  result.eval_seconds = seconds_between(t_prompt_done, Clock::now());
  return finish(result, sink);
}

}  // namespace locus::runtime
