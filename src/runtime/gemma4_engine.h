// A loaded Gemma 4 model ready to generate: the forward pass (model layer) and the tokenizer (text layer)
// behind the generator's LanguageModel and TokenText interfaces.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "model/gemma4_model.h"
#include "runtime/generator.h"
#include "runtime/grammar_constraint.h"
#include "text/tokenizer.h"

namespace locus::runtime {

struct EngineOptions {
  uint32_t n_ctx = 4096;
  uint32_t n_batch = 512;
  int n_threads = 0;  // 0 = all cores
  bool mmap = false;  // use the weights in place from the mapped file (model::Gemma4ModelOptions::mmap)
  std::function<void(uint64_t done, uint64_t total)> load_progress;
};

class Gemma4Engine final : public LanguageModel, public TokenText {
 public:
  // Throws gguf::GgufError (bad or unsupported file) or std::invalid_argument (bad options).
  static std::unique_ptr<Gemma4Engine> load(const std::string& path, const EngineOptions& options);

  model::Gemma4Model& model() { return *model_; }
  const text::Tokenizer& tokenizer() const { return tokenizer_; }

  // LanguageModel
  int32_t n_vocab() const override { return static_cast<int32_t>(model_->n_vocab()); }
  int32_t n_ctx() const override { return static_cast<int32_t>(model_->n_ctx()); }
  void eval(std::span<const int32_t> tokens, int32_t pos, std::span<float> last_logits) override;
  void truncate(int32_t pos) override;

  // TokenText
  std::string_view piece(int32_t id) const override { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const override { return tokenizer_.is_eog(id); }

  // The GGUF's tokenizer.ggml.suppress_tokens (ids the sampler must never pick).
  const std::vector<int32_t>& suppress_tokens() const { return suppress_; }

  // The vocabulary as structured-output constraints see it, built on first use (~20 ms, a few MB) and shared.
  std::shared_ptr<const ConstraintVocab> constraint_vocab() const;

 private:
  Gemma4Engine(std::unique_ptr<model::Gemma4Model> model, text::Tokenizer tokenizer);

  std::unique_ptr<model::Gemma4Model> model_;
  text::Tokenizer tokenizer_;
  std::vector<std::string> pieces_;  // text of every token (control tokens empty except the chat markers, which
                                     // the output parser reads), built once so decoding never allocates
  std::vector<int32_t> suppress_;
  mutable std::once_flag constraint_vocab_once_;
  mutable std::shared_ptr<const ConstraintVocab> constraint_vocab_;
};

}  // namespace locus::runtime
