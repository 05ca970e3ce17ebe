// Tests only: deterministic stand-ins for the model and tokenizer behind the generator's interfaces.
#pragma once

#include <cstdint>
#include <cstdio>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/generator.h"

namespace locus::runtime::testing {

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A model with a KV cache it checks like a real one: eval must continue exactly where the cache ends and
// stay inside n_ctx. The logits after a sequence are a hash of the whole sequence, so they depend on the
// history the way a real model's do. With a script, the token script[i] gets logit +12 at the i-th
// generated position (counted from `script_from`) so greedy decoding reproduces the script.
class FakeModel : public LanguageModel {
 public:
  FakeModel(int32_t n_vocab, int32_t n_ctx) : n_vocab_(n_vocab), n_ctx_(n_ctx) {
    cache_.reserve(static_cast<size_t>(n_ctx));
    hashes_.reserve(static_cast<size_t>(n_ctx));
  }

  int32_t n_vocab() const override { return n_vocab_; }
  int32_t n_ctx() const override { return n_ctx_; }

  void eval(std::span<const int32_t> tokens, int32_t pos, std::span<float> last_logits) override {
    if (pos != static_cast<int32_t>(cache_.size())) throw std::logic_error("eval not at the cache end");
    if (tokens.empty()) throw std::logic_error("eval of no tokens");
    if (pos + static_cast<int32_t>(tokens.size()) > n_ctx_) throw std::out_of_range("eval past n_ctx");
    if (last_logits.size() != static_cast<size_t>(n_vocab_)) throw std::logic_error("logits size");
    if (throw_at_pos >= 0 && pos + static_cast<int32_t>(tokens.size()) > throw_at_pos) {
      throw std::runtime_error("injected failure");
    }
    ++eval_calls;
    if (record_batches) batch_sizes.push_back(static_cast<int32_t>(tokens.size()));
    for (int32_t t : tokens) {
      const uint64_t prev = hashes_.empty() ? 0x1234 : hashes_.back();
      cache_.push_back(t);
      hashes_.push_back(mix64(prev ^ (static_cast<uint64_t>(t) * 0x100000001B3ull)));
    }
    const uint64_t h = hashes_.back();
    for (int32_t v = 0; v < n_vocab_; ++v) {
      const uint64_t r = mix64(h + static_cast<uint64_t>(v));
      last_logits[static_cast<size_t>(v)] = static_cast<float>(r >> 40) * (8.0f / 16777216.0f) - 4.0f;
    }
    const int64_t step = static_cast<int64_t>(cache_.size()) - script_from;
    if (step >= 0 && step < static_cast<int64_t>(script.size())) {
      last_logits[static_cast<size_t>(script[static_cast<size_t>(step)])] = 12.0f;
    }
    for (int32_t id : banned) last_logits[static_cast<size_t>(id)] = -30.0f;
  }

  void truncate(int32_t pos) override {
    cache_.resize(static_cast<size_t>(pos));
    hashes_.resize(static_cast<size_t>(pos));
  }

  const std::vector<int32_t>& cache() const { return cache_; }

  std::vector<int32_t> script;  // tokens greedy decoding should produce
  int64_t script_from = 0;      // cache length at which script[0] becomes the argmax (the prompt length)
  std::vector<int32_t> banned;  // always very unlikely (EOG ids, so hash-driven runs keep going)
  int32_t throw_at_pos = -1;
  int eval_calls = 0;
  bool record_batches = false;
  std::vector<int32_t> batch_sizes;

 private:
  int32_t n_vocab_;
  int32_t n_ctx_;
  std::vector<int32_t> cache_;
  std::vector<uint64_t> hashes_;
};

// Pieces from a table; ids not in the table decode to "<id>" (precomputed, so piece() allocates nothing).
class FakeText : public TokenText {
 public:
  explicit FakeText(int32_t n_vocab) : pieces_(static_cast<size_t>(n_vocab)) {
    for (int32_t i = 0; i < n_vocab; ++i) {
      char buf[16];  // snprintf: g++ 12 warns falsely (-Wrestrict) on "<" + std::to_string(i)
      std::snprintf(buf, sizeof buf, "<%d>", static_cast<int>(i));
      pieces_[static_cast<size_t>(i)] = buf;
    }
  }
  void set(int32_t id, std::string piece) { pieces_[static_cast<size_t>(id)] = std::move(piece); }
  void set_eog(int32_t id) { eog_.insert(id); }
  std::string_view piece(int32_t id) const override { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const override { return eog_.count(id) != 0; }

 private:
  std::vector<std::string> pieces_;
  std::set<int32_t> eog_;
};

// Collects everything a request reports.
class RecordingSink : public GenerateSink {
 public:
  void on_text(std::string_view text) override {
    chunks.emplace_back(text);
    output.append(text);
  }
  void on_token(int32_t token, const TokenLogprobs* logprobs) override {
    tokens.push_back(token);
    if (logprobs != nullptr) all_logprobs.push_back(*logprobs);
  }
  void on_done(const GenerateResult& result) override {
    ++done_calls;
    done = result;
  }

  std::string output;
  std::vector<std::string> chunks;
  std::vector<int32_t> tokens;
  std::vector<TokenLogprobs> all_logprobs;
  GenerateResult done;
  int done_calls = 0;
};

}  // namespace locus::runtime::testing
