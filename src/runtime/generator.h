// The generation loop: prompt evaluation in batches, sampling, stop conditions, streaming text out.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/media_prompt.h"
#include "runtime/repetition_guard.h"
#include "runtime/sampler.h"
#include "runtime/sampling_options.h"
#include "runtime/stop_strings.h"
#include "runtime/utf8_stream.h"

namespace locus::runtime {
class TokenStepper;
}

namespace locus::runtime {

// What the generator needs from a model; the Gemma 4 forward pass implements it.
struct LanguageModel {
  virtual ~LanguageModel() = default;
  virtual int32_t n_vocab() const = 0;
  // Positions the model's KV cache holds; a token may be evaluated at positions [0, n_ctx()).
  virtual int32_t n_ctx() const = 0;
  // Evaluates `tokens` at positions pos, pos + 1, ... with the cache holding exactly positions [0, pos), and
  // writes the logits after the last of them into last_logits (n_vocab floats). May throw std::exception;
  // the generator reports it as an error and does not call eval again for that request.
  virtual void eval(std::span<const int32_t> tokens, int32_t pos, std::span<float> last_logits) = 0;
  // Forgets cached positions >= pos.
  virtual void truncate(int32_t pos) = 0;
  // Evaluates a media block (media_prompt.h) at positions pos.. (the cache holding exactly [0, pos)), logits
  // after its last row as eval(). Models without media throw std::invalid_argument.
  virtual void eval_media(const MediaBlock& /*block*/, int32_t /*pos*/, std::span<float> /*last_logits*/) {
    throw std::invalid_argument("this model takes no media");
  }
};

// What the generator needs from a tokenizer.
struct TokenText {
  virtual ~TokenText() = default;
  // The bytes token `id` decodes to in running text. A byte-fallback token gives a single byte, so a piece
  // may hold part of a UTF-8 character. A view rather than a std::string so that decoding allocates nothing
  // (a tokenizer keeps a table of decoded pieces); it must stay valid until the next call.
  virtual std::string_view piece(int32_t id) const = 0;
  // End of generation (Gemma 4: <eos>, <turn|>, <|tool_response>). Its text is never emitted.
  virtual bool is_eog(int32_t id) const = 0;
};

// Restricts which tokens may come next (structured output: a JSON Schema, a forced tool call). The generator
// samples as usual and asks allows() about the token drawn; only when it is refused does it call mask() and
// sample again from what is left (llama.cpp's order too). Without truncation (top_k, top_p, min_p off) that is
// exactly sampling from the masked distribution: p(t) + (1 - p(allowed)) * p(t) / p(allowed) = p(t) / p(allowed);
// with truncation the first draw sees the unmasked top tokens. Greedy decoding gives the allowed argmax either
// way. accept() follows every token generated, the end-of-generation token included. Implementations keep
// their buffers across tokens: the token loop must not allocate.
struct TokenConstraint {
  virtual ~TokenConstraint() = default;
  virtual bool allows(int32_t token) = 0;
  // Sets the logits of every refused token to -infinity.
  virtual void mask(std::span<float> logits) = 0;
  virtual void accept(int32_t token) = 0;
  // Called once per request, before the first token, with the most tokens it may draw (num_predict or what the
  // context leaves, whichever is smaller; the end-of-generation token included), so that a constraint can keep
  // room for what it must produce (GrammarConstraint caps a thinking block with it). Ignored by default.
  virtual void set_token_budget(int32_t /*tokens*/) {}
};

struct GenerateRequest {
  std::span<const int32_t> prompt;  // rendered and tokenized, BOS included
  // Media rows in the prompt (media_prompt.h: expand_media), in position order. A prompt with media is never
  // truncated (a block cannot be cut): one longer than the context is an error.
  std::span<const MediaBlock> media;
  SamplingOptions options;
  // Prompt longer than the context: false gives an error; true keeps the first num_keep tokens and drops
  // the oldest ones after them, as Ollama's runner does. (Ollama's API defaults `truncate` to true; the
  // server maps that, the runtime defaults to the explicit error.)
  bool truncate = false;
  bool logprobs = false;      // report TokenLogprobs with each token
  int32_t top_logprobs = 0;   // [0, kMaxTopLogprobs]
  const std::atomic<bool>* cancel = nullptr;  // set from any thread; checked between tokens and batches
  TokenConstraint* constraint = nullptr;      // structured output; not owned
  // Ends generation with DoneReason::repetition once the output has collapsed into a loop (repetition_guard.h);
  // <= 0 disables.
  int32_t loop_guard_tokens = RepetitionGuard::kDefaultMinTokens;
};

enum class DoneReason { stop, length, cancelled, error, repetition };
// "stop", "length", "cancelled", "error", "repetition": Ollama's done_reason names for the first two.
const char* done_reason_name(DoneReason reason);

struct GenerateResult {
  DoneReason reason = DoneReason::stop;
  std::string error;            // set when reason == error: one line, what was expected and found
  int32_t stop_index = -1;      // which of options.stop ended generation, or -1
  int32_t stop_token = -1;      // the end-of-generation token that ended it, or -1
  int32_t prompt_eval_count = 0;      // prompt tokens evaluated (after truncation and the prompt cache)
  int32_t prompt_cached_tokens = 0;   // prompt tokens already in the KV cache from an earlier request (Scheduler)
  int32_t prompt_tokens_dropped = 0;  // removed by truncation
  int32_t eval_count = 0;             // tokens sampled, the end-of-generation token included
  double prompt_eval_seconds = 0.0;   // start of the request until the first logits (Ollama's prompt_eval_duration)
  double eval_seconds = 0.0;          // first logits until done (Ollama's eval_duration)
  uint64_t seed = 0;                  // the sampler's seed, drawn when options.seed == -1
  int32_t loop_period = 0;            // reason == repetition: the period of the loop, in tokens
};

// Receives a request's events, on the generating thread. Implementations should not block for long:
// generation waits for them.
class GenerateSink {
 public:
  virtual ~GenerateSink() = default;
  // Complete, valid UTF-8 that is not part of a stop string. Chunks may hold several tokens' text or none.
  virtual void on_text(std::string_view text) = 0;
  // Every sampled token except an end-of-generation token, before its text reaches on_text (tokens that
  // turn out to form a stop string are reported too). `logprobs` is non-null when the request asked.
  virtual void on_token(int32_t /*token*/, const TokenLogprobs* /*logprobs*/) {}
  // Called once, last, with what generate() then returns.
  virtual void on_done(const GenerateResult& /*result*/) {}
};

// Ollama's prompt truncation (runner NewSequence): num_keep < 0 means the whole prompt; it is capped at
// n_ctx - 1 so at least one token can go; then the oldest tokens after the kept head are dropped until the
// prompt is n_ctx tokens long. Returns how many tokens to drop, starting at index `keep`.
struct Truncation {
  int32_t keep = 0;
  int32_t drop = 0;
};
Truncation plan_truncation(int32_t n_prompt, int32_t n_ctx, int32_t num_keep);

// What a request must satisfy before anything is evaluated (options in range, top_logprobs in range, a prompt,
// token ids in the vocabulary): a one-line message, or nothing.
// Ids below zero are allowed only inside the media blocks (check_media_blocks).
std::optional<std::string> check_request(std::span<const int32_t> prompt, const SamplingOptions& options,
                                         int32_t top_logprobs, int32_t n_vocab, std::span<const MediaBlock> media = {});

// The tokens to evaluate for `prompt` in a context of n_ctx positions: the prompt itself, or with truncate its
// head and tail (plan_truncation) into `tokens`. Returns an error message when it does not fit and truncate is
// false.
std::optional<std::string> fit_prompt(std::span<const int32_t> prompt, int32_t n_ctx, bool truncate,
                                      int32_t num_keep, std::vector<int32_t>& tokens, Truncation& cut);

// Runs requests against one model, one at a time. Buffers (logits, sampler candidates, token history,
// text) are sized at construction and per request; the token loop allocates nothing and takes no lock.
class Generator {
 public:
  // suppress_tokens: ids the sampler never picks (GGUF tokenizer.ggml.suppress_tokens).
  Generator(LanguageModel& model, const TokenText& text, std::span<const int32_t> suppress_tokens = {});
  ~Generator();

  GenerateResult generate(const GenerateRequest& request, GenerateSink& sink);

 private:
  GenerateResult finish(GenerateResult result, GenerateSink& sink);

  LanguageModel& model_;
  std::unique_ptr<TokenStepper> stepper_;
  std::vector<float> logits_;
  std::vector<int32_t> tokens_;
};

}  // namespace locus::runtime
