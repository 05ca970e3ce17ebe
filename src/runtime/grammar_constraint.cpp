#include "runtime/grammar_constraint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "text/output_parser.h"

namespace locus::runtime {

namespace {

bool is_unused_piece(std::string_view s) {
  constexpr std::string_view kPrefix = "<unused";
  if (!s.starts_with(kPrefix) || !s.ends_with('>') || s.size() == kPrefix.size() + 1) return false;
  for (const char c : s.substr(kPrefix.size(), s.size() - kPrefix.size() - 1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const ConstraintVocab> ConstraintVocab::from_tokenizer(const text::Tokenizer& tokenizer) {
  auto v = std::make_shared<ConstraintVocab>();
  const int32_t n = tokenizer.n_vocab();
  v->kind.resize(static_cast<size_t>(n));
  v->offset.resize(static_cast<size_t>(n) + 1);
  auto id_of = [&](std::string_view piece) { return tokenizer.find(piece).value_or(-1); };
  const int32_t quote = id_of("<|\"|>");
  const int32_t tool_open = id_of("<|tool_call>");
  const int32_t tool_close = id_of("<tool_call|>");
  const int32_t channel_open = id_of("<|channel>");
  const int32_t channel_close = id_of("<channel|>");
  for (int32_t id = 0; id < n; ++id) {
    v->offset[static_cast<size_t>(id)] = static_cast<uint32_t>(v->bytes.size());
    Kind k = kText;
    if (tokenizer.is_eog(id)) {
      k = kEog;
    } else if (id == quote) {
      k = kQuote;
    } else if (id == tool_open) {
      k = kToolCallOpen;
    } else if (id == tool_close) {
      k = kToolCallClose;
    } else if (id == channel_open) {
      k = kChannelOpen;
    } else if (id == channel_close) {
      k = kChannelClose;
    } else {
      const text::TokenType type = tokenizer.token_type(id);
      // Control, unknown, unused and the other user-defined tokens (chat and media markers) are markup, not
      // text the structured output may contain.
      if (type == text::TokenType::normal || type == text::TokenType::byte) {
        tokenizer.append_piece(v->bytes, id, /*render_special=*/false);
      }
      // An empty piece could be chosen forever without moving the matcher.
      if (v->bytes.size() == v->offset[static_cast<size_t>(id)]) k = kNever;
      // Gemma's reserved <unusedN> pieces are typed normal (as llama.cpp's converter writes them) but are
      // placeholders for control tokens, never text: they would come out as literal "<unused12>".
      if (is_unused_piece(std::string_view(v->bytes).substr(v->offset[static_cast<size_t>(id)]))) k = kNever;
    }
    v->kind[static_cast<size_t>(id)] = k;
  }
  v->offset[static_cast<size_t>(n)] = static_cast<uint32_t>(v->bytes.size());
  v->index();
  return v;
}

std::shared_ptr<const ConstraintVocab> ConstraintVocab::from_pieces(
    const std::vector<std::pair<Kind, std::string>>& pieces) {
  auto v = std::make_shared<ConstraintVocab>();
  for (const auto& [kind, text] : pieces) {
    v->offset.push_back(static_cast<uint32_t>(v->bytes.size()));
    Kind k = kind;
    if (k == kText) {
      v->bytes += text;
      if (text.empty()) k = kNever;
    }
    v->kind.push_back(k);
  }
  v->offset.push_back(static_cast<uint32_t>(v->bytes.size()));
  v->index();
  return v;
}

void ConstraintVocab::index() {
  std::array<uint32_t, 256> group_size{};
  const int32_t n = size();
  for (int32_t id = 0; id < n; ++id) {
    // Bytes F5-FF never occur in UTF-8, so a token holding one (a byte-fallback token) can never be part of
    // valid output; and FF stands for <|"|> inside the matcher, which such a token must not fake.
    if (kind[static_cast<size_t>(id)] == kText) {
      for (char c : text(id)) {
        if (static_cast<uint8_t>(c) >= 0xF5) kind[static_cast<size_t>(id)] = kNever;
      }
    }
    const Kind k = kind[static_cast<size_t>(id)];
    if (k == kText) ++group_size[static_cast<uint8_t>(bytes[offset[static_cast<size_t>(id)]])];
    if (k != kText && k != kNever) specials.push_back(id);
    if (k == kText && text(id).find('>') != std::string_view::npos) closers.push_back(id);
  }
  code_points.assign(static_cast<size_t>(n), 0);
  for (const text::JsonDialect d : {text::JsonDialect::kJson, text::JsonDialect::kGemmaToolArgs}) {
    PlainText& p = plain[static_cast<size_t>(d)];
    p.bits.assign((static_cast<size_t>(n) + 63) / 64, 0);
    for (int32_t id = 0; id < n; ++id) {
      if (kind[static_cast<size_t>(id)] != kText) continue;
      const std::optional<uint32_t> len = text::plain_string_length(text(id), d);
      if (!len) {
        p.other_text.push_back(id);
        continue;
      }
      p.bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
      p.by_length.push_back(id);
      code_points[static_cast<size_t>(id)] = static_cast<uint16_t>(std::min<uint32_t>(*len, 0xFFFF));
    }
    std::stable_sort(p.by_length.begin(), p.by_length.end(), [this](int32_t a, int32_t b) {
      return code_points[static_cast<size_t>(a)] > code_points[static_cast<size_t>(b)];
    });
  }
  uint32_t at = 0;
  for (size_t b = 0; b < 256; ++b) {
    group_begin[b] = at;
    at += group_size[b];
  }
  group_begin[256] = at;
  by_first_byte.resize(at);
  std::array<uint32_t, 256> fill{};
  for (int32_t id = 0; id < n; ++id) {
    if (kind[static_cast<size_t>(id)] != kText) continue;
    const uint8_t b = static_cast<uint8_t>(bytes[offset[static_cast<size_t>(id)]]);
    by_first_byte[group_begin[b] + fill[b]++] = id;
  }
}

namespace {

const text::JsonGrammar& checked_grammar(const ConstraintVocab* vocab, const StructuredOutput& output) {
  if (vocab == nullptr || output.grammar == nullptr) {
    throw std::invalid_argument("structured output without a vocabulary or a grammar");
  }
  return *output.grammar;
}

}  // namespace

GrammarConstraint::GrammarConstraint(std::shared_ptr<const ConstraintVocab> vocab, StructuredOutput output)
    : vocab_(std::move(vocab)), output_(std::move(output)), matcher_(checked_grammar(vocab_.get(), output_)) {
  const size_t words = (static_cast<size_t>(vocab_->size()) + 63) / 64;
  for (CacheEntry& e : cache_) e.bits.assign(words, 0);
  reset();
}

void GrammarConstraint::reset() {
  matcher_.reset();
  phase_ = Phase::start;
  calls_done_ = 0;
  thinking_limit_ = INT32_MAX;
  thinking_used_ = 0;
  tail_len_ = 0;
}

void GrammarConstraint::set_token_budget(int32_t tokens) {
  thinking_limit_ = std::max(tokens, 0) / kThinkingShare;
}

bool GrammarConstraint::spells_marker(std::string_view tail, std::string_view piece) {
  // Every marker starts with '<' and ends with '>': most pieces and tails are ruled out by a search for those.
  if (piece.find('>') == std::string_view::npos) return false;
  const std::span<const std::string_view> markers = text::output_markers();
  if (piece.find('<') != std::string_view::npos) {
    for (const std::string_view m : markers) {
      if (piece.find(m) != std::string_view::npos) return true;
    }
  }
  // Begun in the text before (at one of its '<'), finished by this piece.
  size_t end = tail.size();
  while (end > 0) {
    const size_t lt = tail.rfind('<', end - 1);
    if (lt == std::string_view::npos) break;
    const std::string_view begun = tail.substr(lt);
    for (const std::string_view m : markers) {
      if (m.size() > begun.size() && m.starts_with(begun) && piece.starts_with(m.substr(begun.size()))) return true;
    }
    end = lt;
  }
  return false;
}

bool GrammarConstraint::text_spells_marker(int32_t token) const {
  return spells_marker(std::string_view(tail_.data(), tail_len_), vocab_->text(token));
}

bool GrammarConstraint::may_open_thinking() const {
  return output_.allow_thinking && thinking_limit_ >= kMinThinkingTokens;
}

namespace {

// The matcher's input for a token in a matcher phase: its text, or kSymQuote for <|"|>.
bool feed_token(text::JsonMatcher& m, const ConstraintVocab& v, int32_t token) {
  switch (v.kind[static_cast<size_t>(token)]) {
    case ConstraintVocab::kText: return m.advance(v.text(token));
    case ConstraintVocab::kQuote: return m.advance(text::kSymQuote);
    default: return false;
  }
}

}  // namespace

bool GrammarConstraint::allowed_now(int32_t token) const {
  if (token < 0 || token >= vocab_->size()) return false;
  const ConstraintVocab::Kind k = vocab_->kind[static_cast<size_t>(token)];
  const bool json = output_.kind == StructuredOutput::Kind::json;
  switch (phase_) {
    case Phase::start:
      if (k == ConstraintVocab::kChannelOpen) return may_open_thinking();
      if (!json) return k == ConstraintVocab::kToolCallOpen;
      [[fallthrough]];
    case Phase::body: {
      if (k == ConstraintVocab::kEog) return matcher_.can_end();
      if (k != ConstraintVocab::kText || text_spells_marker(token)) return false;
      text::JsonMatcher probe = matcher_;
      return feed_token(probe, *vocab_, token);
    }
    case Phase::thinking:
      // Text only (no <|"|>, no markup), and only <channel|> once the block has used its share of the budget.
      if (k == ConstraintVocab::kChannelClose) return true;
      return k == ConstraintVocab::kText && thinking_used_ + 1 < thinking_limit_ && !text_spells_marker(token);
    case Phase::call_open:
      return k == ConstraintVocab::kToolCallOpen;
    case Phase::call_body: {
      if (k == ConstraintVocab::kToolCallClose) return matcher_.can_end();
      if (k != ConstraintVocab::kText && k != ConstraintVocab::kQuote) return false;
      if (k == ConstraintVocab::kText && text_spells_marker(token)) return false;
      text::JsonMatcher probe = matcher_;
      return feed_token(probe, *vocab_, token);
    }
    case Phase::between_calls:
      return k == ConstraintVocab::kEog || (output_.parallel_tool_calls && k == ConstraintVocab::kToolCallOpen);
    case Phase::end:
      return k == ConstraintVocab::kEog;
  }
  return false;
}

bool GrammarConstraint::allows(int32_t token) { return allowed_now(token); }

void GrammarConstraint::compute_mask(std::vector<uint64_t>& bits) const {
  std::fill(bits.begin(), bits.end(), 0);
  const ConstraintVocab& v = *vocab_;
  auto set = [&bits](int32_t id) { bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63); };
  // Copies made with copy_from move only the frames in use (a full copy is ~350 bytes, per token).
  text::JsonMatcher first = matcher_;
  text::JsonMatcher probe = matcher_;
  if (const std::optional<uint32_t> budget = matcher_.plain_string_budget()) {
    // Inside a string: plain tokens by their length alone, only the rest (quotes, escapes, control bytes,
    // pieces of a UTF-8 character) through the matcher.
    const ConstraintVocab::PlainText& p = v.plain[static_cast<size_t>(output_.grammar->dialect)];
    std::copy(p.bits.begin(), p.bits.end(), bits.begin());
    for (const int32_t id : p.by_length) {
      if (v.code_points[static_cast<size_t>(id)] <= *budget) break;
      bits[static_cast<size_t>(id) >> 6] &= ~(uint64_t{1} << (id & 63));
    }
    for (const int32_t id : p.other_text) {
      probe.copy_from(matcher_);
      if (probe.advance(v.text(id))) set(id);
    }
  } else {
    // Elsewhere: whole groups of tokens fall when the state refuses their first byte.
    for (int b = 0; b < 256; ++b) {
      const uint32_t begin = v.group_begin[static_cast<size_t>(b)];
      const uint32_t end = v.group_begin[static_cast<size_t>(b) + 1];
      if (begin == end) continue;
      first.copy_from(matcher_);
      if (!first.advance(static_cast<uint8_t>(b))) continue;
      for (uint32_t i = begin; i < end; ++i) {
        const int32_t id = v.by_first_byte[i];
        const std::string_view t = v.text(id);
        if (t.size() == 1) {
          set(id);
          continue;
        }
        probe.copy_from(first);
        if (probe.advance(t.substr(1))) set(id);
      }
    }
  }
  // The special tokens that the matcher phases allow.
  for (int32_t id : v.specials) {
    const ConstraintVocab::Kind k = v.kind[static_cast<size_t>(id)];
    if (k == ConstraintVocab::kQuote && phase_ == Phase::call_body) {
      probe.copy_from(matcher_);
      if (probe.advance(text::kSymQuote)) set(id);
    } else if (k == ConstraintVocab::kEog && phase_ == Phase::body && matcher_.can_end()) {
      set(id);
    } else if (k == ConstraintVocab::kToolCallClose && phase_ == Phase::call_body && matcher_.can_end()) {
      set(id);
    }
  }
}

const std::vector<uint64_t>& GrammarConstraint::current_mask() {
  const uint64_t hash = matcher_.state_hash() ^ (static_cast<uint64_t>(phase_) * 0x9E3779B97F4A7C15ull);
  ++clock_;
  CacheEntry* victim = &cache_[0];
  for (CacheEntry& e : cache_) {
    if (e.used && e.phase == phase_ && e.hash == hash && e.state->same_state(matcher_)) {
      e.last_use = clock_;
      ++hits_;
      return e.bits;
    }
    if (!e.used || e.last_use < victim->last_use) victim = &e;
    if (!victim->used) break;
  }
  ++misses_;
  compute_mask(victim->bits);
  victim->used = true;
  victim->phase = phase_;
  victim->hash = hash;
  victim->state = matcher_;  // std::optional of a fixed-size object: no allocation
  victim->last_use = clock_;
  return victim->bits;
}

void GrammarConstraint::mask(std::span<float> logits) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = std::min(logits.size(), static_cast<size_t>(vocab_->size()));
  for (size_t i = n; i < logits.size(); ++i) logits[i] = kNegInf;
  // The cached masks depend on the matcher state alone; text that would spell a marker with the bytes before
  // it is refused here, among the few tokens that hold a '>'.
  auto refuse_spelled_markers = [&] {
    for (const int32_t id : vocab_->closers) {
      if (static_cast<size_t>(id) < n && logits[static_cast<size_t>(id)] != kNegInf && text_spells_marker(id)) {
        logits[static_cast<size_t>(id)] = kNegInf;
      }
    }
  };
  if (phase_ == Phase::body || phase_ == Phase::call_body) {
    const std::vector<uint64_t>& bits = current_mask();
    for (size_t i = 0; i < n; ++i) {
      if (((bits[i >> 6] >> (i & 63)) & 1u) == 0) logits[i] = kNegInf;
    }
    refuse_spelled_markers();
    return;
  }
  if (phase_ == Phase::start && output_.kind == StructuredOutput::Kind::json) {
    // The body's first tokens, or the start of a thinking block.
    phase_ = Phase::body;
    const std::vector<uint64_t>& bits = current_mask();
    phase_ = Phase::start;
    const bool thinking = may_open_thinking();
    for (size_t i = 0; i < n; ++i) {
      const bool ok = ((bits[i >> 6] >> (i & 63)) & 1u) != 0 ||
                      (thinking && vocab_->kind[i] == ConstraintVocab::kChannelOpen);
      if (!ok) logits[i] = kNegInf;
    }
    refuse_spelled_markers();
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!allowed_now(static_cast<int32_t>(i))) logits[i] = kNegInf;
  }
}

void GrammarConstraint::remember_text(int32_t token) {
  if (vocab_->kind[static_cast<size_t>(token)] != ConstraintVocab::kText) {
    tail_len_ = 0;  // the parser has read a whole marker: what came before cannot begin another
    return;
  }
  const std::string_view t = vocab_->text(token);
  if (t.size() >= kTailBytes) {
    std::copy(t.end() - kTailBytes, t.end(), tail_.begin());
    tail_len_ = kTailBytes;
    return;
  }
  // Keep the last bytes of the tail that still fit beside the token's.
  const size_t keep = std::min(tail_len_, kTailBytes - t.size());
  char* const tail = tail_.data();
  std::memmove(tail, tail + (tail_len_ - keep), keep);
  std::memcpy(tail + keep, t.data(), t.size());
  tail_len_ = keep + t.size();
}

void GrammarConstraint::accept(int32_t token) {
  if (token < 0 || token >= vocab_->size()) return;
  if (phase_ != Phase::start) remember_text(token);  // start hands the token on to the next phase
  const ConstraintVocab::Kind k = vocab_->kind[static_cast<size_t>(token)];
  const bool json = output_.kind == StructuredOutput::Kind::json;
  switch (phase_) {
    case Phase::start:
      if (k == ConstraintVocab::kChannelOpen) {
        remember_text(token);
        phase_ = Phase::thinking;
        thinking_used_ = 1;
        return;
      }
      phase_ = json ? Phase::body : Phase::call_open;
      accept(token);
      return;
    case Phase::thinking:
      ++thinking_used_;
      if (k == ConstraintVocab::kChannelClose) phase_ = json ? Phase::body : Phase::call_open;
      return;
    case Phase::body:
      if (k == ConstraintVocab::kEog) {
        phase_ = Phase::end;
      } else {
        feed_token(matcher_, *vocab_, token);
        if (matcher_.done()) phase_ = Phase::end;  // only the end of generation may follow
      }
      return;
    case Phase::call_open:
      if (k == ConstraintVocab::kToolCallOpen) {
        matcher_.reset();
        phase_ = Phase::call_body;
      }
      return;
    case Phase::call_body:
      if (k == ConstraintVocab::kToolCallClose) {
        ++calls_done_;
        phase_ = output_.parallel_tool_calls ? Phase::between_calls : Phase::end;
      } else {
        feed_token(matcher_, *vocab_, token);
      }
      return;
    case Phase::between_calls:
      if (k == ConstraintVocab::kToolCallOpen) {
        matcher_.reset();
        phase_ = Phase::call_body;
      } else {
        phase_ = Phase::end;
      }
      return;
    case Phase::end:
      return;
  }
}

}  // namespace locus::runtime
