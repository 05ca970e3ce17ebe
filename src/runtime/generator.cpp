#include "runtime/generator.h"

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

Generator::Generator(LanguageModel& model, const TokenText& text, std::span<const int32_t> suppress_tokens)
    : model_(model),
      text_(text),
      sampler_(SamplingOptions{}, model.n_vocab(), suppress_tokens),
      logits_(static_cast<size_t>(model.n_vocab())),
      masked_(static_cast<size_t>(model.n_vocab())) {}

void Generator::emit(std::string_view bytes, GenerateSink& sink) {
  if (bytes.empty()) return;
  const std::string_view text = utf8_.feed(bytes);
  if (!text.empty()) sink.on_text(text);
}

GenerateResult Generator::finish(GenerateResult result, GenerateSink& sink) {
  emit(stops_.flush(), sink);  // held text that never became a stop string is real output
  utf8_.finish();
  sink.on_done(result);
  return result;
}

GenerateResult Generator::generate(const GenerateRequest& request, GenerateSink& sink) {
  const Clock::time_point t_start = Clock::now();
  const SamplingOptions& options = request.options;
  const int32_t n_vocab = model_.n_vocab();
  stops_.reset();
  utf8_.reset();

  if (auto problem = validate(options)) return finish(error_result(*problem), sink);
  if (request.top_logprobs < 0 || request.top_logprobs > kMaxTopLogprobs) {
    return finish(error_result("top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " +
                               std::to_string(request.top_logprobs)),
                  sink);
  }
  if (request.prompt.empty()) return finish(error_result("prompt is empty: nothing to generate from"), sink);
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    const int32_t id = request.prompt[i];
    if (id < 0 || id >= n_vocab) {
      return finish(error_result("prompt token " + std::to_string(i) + " is " + std::to_string(id) +
                                 ", outside the vocabulary [0, " + std::to_string(n_vocab) + ")"),
                    sink);
    }
  }

  // The model's cache was sized when it was loaded; a larger num_ctx cannot be honoured here.
  const int32_t n_ctx =
      options.num_ctx > 0 ? std::min(options.num_ctx, model_.n_ctx()) : model_.n_ctx();
  const int32_t n_prompt_in = static_cast<int32_t>(std::min<size_t>(request.prompt.size(), INT32_MAX));
  Truncation cut;
  if (n_prompt_in > n_ctx) {
    if (!request.truncate) {
      return finish(error_result("prompt is " + std::to_string(n_prompt_in) + " tokens, context is " +
                                 std::to_string(n_ctx) +
                                 " (num_ctx); shorten the prompt, raise num_ctx or allow truncation"),
                    sink);
    }
    cut = plan_truncation(n_prompt_in, n_ctx, options.num_keep);
  }

  sampler_.set_options(options);
  stops_.set_stops(options.stop);
  loop_guard_.reset(request.loop_guard_tokens);
  tokens_.clear();
  tokens_.reserve(static_cast<size_t>(n_ctx) + 1);
  tokens_.insert(tokens_.end(), request.prompt.begin(), request.prompt.begin() + cut.keep);
  tokens_.insert(tokens_.end(), request.prompt.begin() + cut.keep + cut.drop, request.prompt.end());

  GenerateResult result;
  result.seed = sampler_.seed();
  result.prompt_tokens_dropped = cut.drop;
  const int32_t n_prompt = static_cast<int32_t>(tokens_.size());
  const int32_t n_batch = options.num_batch;

  int32_t pos = 0;
  try {
    model_.truncate(0);
    while (pos < n_prompt) {
      if (cancelled(request)) {
        result.reason = DoneReason::cancelled;
        result.prompt_eval_count = pos;
        result.prompt_eval_seconds = seconds_between(t_start, Clock::now());
        return finish(result, sink);
      }
      const int32_t n = std::min(n_batch, n_prompt - pos);
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

  const int32_t num_predict = options.num_predict;
  const bool want_logprobs = request.logprobs || request.top_logprobs > 0;
  for (;;) {
    if (cancelled(request)) {
      result.reason = DoneReason::cancelled;
      break;
    }
    // Penalties see the prompt too, as in llama.cpp's server and Ollama's llama.cpp runner.
    int32_t token = sampler_.sample(logits_, tokens_);
    if (request.constraint != nullptr && token >= 0 && !request.constraint->allows(token)) {
      std::copy(logits_.begin(), logits_.end(), masked_.begin());
      request.constraint->mask(masked_);
      token = sampler_.sample(masked_, tokens_);
      if (token < 0) {
        const int32_t count = result.eval_count;
        result = error_result("the output constraint allows no token after " + std::to_string(count) +
                              " tokens (the model gives every allowed token zero probability)");
        result.eval_count = count;
        break;
      }
    }
    if (token < 0) {
      const int32_t count = result.eval_count;
      result = error_result("the model produced no finite logits after " + std::to_string(count) +
                            " tokens");
      result.eval_count = count;
      break;
    }
    ++result.eval_count;
    if (request.constraint != nullptr) request.constraint->accept(token);
    if (text_.is_eog(token)) {
      result.reason = DoneReason::stop;
      result.stop_token = token;
      break;
    }
    if (want_logprobs) {
      sampler_.logprobs(logits_, token, request.top_logprobs, logprobs_);
      sink.on_token(token, &logprobs_);
    } else {
      sink.on_token(token, nullptr);
    }
    const StopMatcher::Result matched = stops_.feed(text_.piece(token));
    emit(matched.text, sink);
    if (matched.stopped) {
      result.reason = DoneReason::stop;
      result.stop_index = matched.stop_index;
      break;
    }
    if (loop_guard_.feed(token)) {
      result.reason = DoneReason::repetition;
      result.loop_period = loop_guard_.period();
      break;
    }
    if (num_predict > 0 && result.eval_count >= num_predict) {
      result.reason = DoneReason::length;
      break;
    }
    if (pos >= n_ctx) {  // no room to evaluate this token, so nothing more can be predicted
      result.reason = DoneReason::length;
      break;
    }
    tokens_.push_back(token);
    try {
      model_.eval(std::span<const int32_t>(&tokens_.back(), 1), pos, logits_);
    } catch (const std::exception& e) {
      const int32_t count = result.eval_count;
      result = error_result(std::string("token evaluation failed at position ") + std::to_string(pos) + ": " +
                            e.what());
      result.eval_count = count;
      break;
    }
    ++pos;
  }
  result.seed = sampler_.seed();
  result.prompt_eval_count = n_prompt;
  result.prompt_tokens_dropped = cut.drop;
  result.prompt_eval_seconds = seconds_between(t_start, t_prompt_done);
  result.eval_seconds = seconds_between(t_prompt_done, Clock::now());
  return finish(result, sink);
}

}  // namespace locus::runtime
