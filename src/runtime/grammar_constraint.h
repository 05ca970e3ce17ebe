// Structured output at the token level: turns a character-level JSON matcher (text/json_matcher.h) into the
// generator's TokenConstraint over Gemma 4's vocabulary, for a JSON answer (Ollama `format`, OpenAI
// `response_format`) or forced tool calls (`tool_choice` required or a named function).
//
// What the model may write:
//   json:       [<|channel> thinking <channel|>] JSON-text EOG
//   tool calls: [<|channel> thinking <channel|>] (<|tool_call> call:NAME{args} <tool_call|>)+ EOG
//               (exactly one call unless parallel calls are allowed)
// The optional thinking block is allowed only when thinking was asked for (StructuredOutput::allow_thinking):
// with thinking off the answer starts with the value itself. The block holds ordinary text and ends with
// <channel|>; it may take at most 1/kThinkingShare of the request's token budget (TokenConstraint::
// set_token_budget: num_predict or what the context leaves), counting both markers: once it has used all but
// one of those tokens, only <channel|> may follow, so at least the other part is left for the value. With
// a budget under kThinkingShare * kMinThinkingTokens (6) no block may open at all. Inside a tool call Gemma's string delimiter
// <|"|> reaches the matcher as the byte text::kSymQuote.
//
// No other special token may be produced under a constraint (turn, tool-response, media and other control
// tokens, and Gemma's reserved <unusedN> pieces, are ConstraintVocab::kNever; the end of generation only where
// the value may end), and ordinary text
// may not spell out one of the chat format's markers (text::output_markers(), "<turn|>" written as "<", "turn",
// "|>"): the output parser reads marker text wherever it comes from, so such text would end the turn, close
// the thought or break a tool call behind the constraint's back.
//
// Masks: for a matcher state, every token whose bytes the matcher accepts in full is allowed. Tokens are
// grouped by their first byte, so whole groups are skipped when the state refuses that byte. Masks are cached
// per matcher state (inside a JSON string with no length limit the state repeats token after token), in a small
// LRU whose buffers are made once per constraint: the token loop allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/generator.h"
#include "text/json_grammar.h"
#include "text/json_matcher.h"
#include "text/tokenizer.h"

namespace locus::runtime {

// The vocabulary as the matcher sees it; built once per model and shared by every constraint.
struct ConstraintVocab {
  enum Kind : uint8_t {
    kText,          // ordinary text: its bytes go through the matcher
    kQuote,         // <|"|>: text::kSymQuote inside tool calls, refused in JSON
    kToolCallOpen,  // <|tool_call>
    kToolCallClose, // <tool_call|>
    kChannelOpen,   // <|channel>
    kChannelClose,  // <channel|>
    kEog,           // end of generation
    kNever,         // control and other special tokens, empty pieces: never part of structured output
  };
  std::vector<Kind> kind;
  std::vector<uint32_t> offset;  // text of token i: bytes[offset[i], offset[i + 1])
  std::string bytes;
  std::vector<int32_t> by_first_byte;  // kText tokens ordered by their first byte
  std::array<uint32_t, 257> group_begin{};  // by_first_byte[group_begin[b], group_begin[b + 1]) start with b
  std::vector<int32_t> specials;  // every token that is neither kText nor kNever
  std::vector<int32_t> closers;   // kText tokens holding a '>': only they can complete a marker's text

  // Inside a plain string (text::JsonMatcher::plain_string_budget) a text token is allowed exactly when it is
  // plain (text::plain_string_length) and short enough, so most of the vocabulary needs no simulation there.
  // Per dialect (text::JsonDialect as index):
  struct PlainText {
    std::vector<uint64_t> bits;        // plain tokens
    std::vector<int32_t> by_length;    // plain tokens, longest (in code points) first
    std::vector<int32_t> other_text;   // kText tokens that are not plain: these are simulated
  };
  std::array<PlainText, 2> plain;
  std::vector<uint16_t> code_points;  // per token: its length in code points when plain in some dialect

  int32_t size() const { return static_cast<int32_t>(kind.size()); }
  std::string_view text(int32_t id) const {
    return std::string_view(bytes).substr(offset[static_cast<size_t>(id)],
                                          offset[static_cast<size_t>(id) + 1] - offset[static_cast<size_t>(id)]);
  }

  static std::shared_ptr<const ConstraintVocab> from_tokenizer(const text::Tokenizer& tokenizer);
  // From kinds and texts directly (tests); texts of tokens other than kText are ignored.
  static std::shared_ptr<const ConstraintVocab> from_pieces(const std::vector<std::pair<Kind, std::string>>& pieces);

 private:
  void index();  // by_first_byte, group_begin and specials from kind, offset and bytes
};

struct StructuredOutput {
  enum class Kind { json, tool_calls };
  Kind kind = Kind::json;
  std::shared_ptr<const text::JsonGrammar> grammar;  // json: the answer; tool_calls: compile_tool_call_grammar
  bool parallel_tool_calls = false;                  // tool_calls: more than one call may follow
  // A thinking block may come first (see above for its cap). Set it only when the request asked for thinking:
  // Gemma 4 sometimes opens a thought anyway, and without this the constraint makes it answer directly.
  bool allow_thinking = false;
};

class GrammarConstraint final : public TokenConstraint {
 public:
  static constexpr size_t kCacheEntries = 16;
  // A thinking block takes at most budget / kThinkingShare tokens, its markers included.
  static constexpr int32_t kThinkingShare = 2;
  // The smallest block worth opening: <|channel>, a word, <channel|>.
  static constexpr int32_t kMinThinkingTokens = 3;
  // The longest marker text minus one: what spelled_marker needs to see of the text before a token.
  static constexpr size_t kTailBytes = 15;

  GrammarConstraint(std::shared_ptr<const ConstraintVocab> vocab, StructuredOutput output);

  bool allows(int32_t token) override;
  void mask(std::span<float> logits) override;
  void accept(int32_t token) override;
  void set_token_budget(int32_t tokens) override;

  // Starts over, for another request with the same grammar (keeps the buffers and the cached masks). The token
  // budget is forgotten too: until set_token_budget, a thinking block is not capped.
  void reset();

  // Whether appending `piece` to text that ends with `tail` completes a marker of the chat format.
  static bool spells_marker(std::string_view tail, std::string_view piece);

  // For tests and benchmarks.
  size_t cache_hits() const { return hits_; }
  size_t cache_misses() const { return misses_; }

 private:
  enum class Phase { start, thinking, body, call_open, call_body, between_calls, end };
  struct CacheEntry {
    bool used = false;
    Phase phase = Phase::start;
    uint64_t hash = 0;
    std::optional<text::JsonMatcher> state;
    uint64_t last_use = 0;
    std::vector<uint64_t> bits;  // one per token: allowed
  };

  bool matcher_phase() const { return phase_ == Phase::body || phase_ == Phase::call_body; }
  bool allowed_now(int32_t token) const;  // by simulation, no cache
  bool may_open_thinking() const;
  bool text_spells_marker(int32_t token) const;
  void remember_text(int32_t token);  // keeps tail_ up to date
  const std::vector<uint64_t>& current_mask();
  void compute_mask(std::vector<uint64_t>& bits) const;

  std::shared_ptr<const ConstraintVocab> vocab_;
  StructuredOutput output_;
  text::JsonMatcher matcher_;
  Phase phase_ = Phase::start;
  int calls_done_ = 0;
  int32_t thinking_limit_ = INT32_MAX;  // tokens a thinking block may take (set_token_budget)
  int32_t thinking_used_ = 0;           // tokens of the thinking block so far, <|channel> included
  std::array<char, kTailBytes> tail_{};  // the last text bytes since the last special token
  size_t tail_len_ = 0;
  std::array<CacheEntry, kCacheEntries> cache_;
  uint64_t clock_ = 0;
  size_t hits_ = 0;
  size_t misses_ = 0;
};

}  // namespace locus::runtime
