// A loaded Gemma 4 model ready to generate: the forward pass (model layer) and the tokenizer (text layer)
// behind the generator's LanguageModel and TokenText interfaces.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gemma4_model.h"
#include "model/gemma4_projector.h"
#include "runtime/media_prompt.h"
#include "runtime/generator.h"
#include "runtime/grammar_constraint.h"
#include "text/tokenizer.h"

namespace locus::runtime {

struct EngineOptions {
  uint32_t n_ctx = 4096;
  uint32_t n_batch = 512;
  int n_threads = 0;  // 0 = all cores
  bool mmap = false;  // use the weights in place from the mapped file (model::Gemma4ModelOptions::mmap)
  // The mmproj projector GGUF (gemma4uv/gemma4ua) to load beside the model; empty: text only. With one, the
  // model's step buffers hold an image of up to 1120 tokens as one block (Gemma4ModelOptions::max_block).
  std::string mmproj;
  // Projected media kept for reuse (a conversation re-sends its images every turn), by content hash.
  uint64_t media_cache_bytes = 256ull << 20;
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
  void eval_media(const MediaBlock& block, int32_t pos, std::span<float> last_logits) override;

  // Media. projector() is null without an mmproj; media_tokens() throws std::invalid_argument then.
  const model::Gemma4Projector* projector() const { return projector_.get(); }
  const MediaTokens& media_tokens() const;
  // Throws std::invalid_argument, one line, when this engine cannot take `media`: no projector, or one without
  // the vision (images, video frames) or audio encoder it needs.
  void check_takes(const PreparedMedia& media) const;
  // The projected rows of `input` (tokens() rows of n_embd), from the cache or computed now on the model's pool
  // (call it from the thread that drives the model). Throws std::invalid_argument when the projector lacks the
  // modality.
  std::shared_ptr<const std::vector<float>> embed_media(const MediaInput& input);
  struct MediaCacheStats {
    uint64_t hits = 0, misses = 0, bytes = 0;
  };
  MediaCacheStats media_cache_stats() const { return media_stats_; }

  // TokenText
  std::string_view piece(int32_t id) const override { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const override { return tokenizer_.is_eog(id); }

  // The GGUF's tokenizer.ggml.suppress_tokens (ids the sampler must never pick).
  const std::vector<int32_t>& suppress_tokens() const { return suppress_; }

  // The vocabulary as structured-output constraints see it, built on first use (~20 ms, a few MB) and shared.
  std::shared_ptr<const ConstraintVocab> constraint_vocab() const;

 private:
  Gemma4Engine(std::unique_ptr<model::Gemma4Model> model, text::Tokenizer tokenizer);
  std::unique_ptr<model::Gemma4Projector> projector_;
  std::optional<MediaTokens> media_tokens_;
  uint64_t media_cache_limit_ = 0;
  struct CachedRows {
    uint64_t hash;
    int64_t tokens;
    std::shared_ptr<const std::vector<float>> rows;
  };
  std::vector<CachedRows> media_cache_;  // most recently used last
  MediaCacheStats media_stats_;

  std::unique_ptr<model::Gemma4Model> model_;
  text::Tokenizer tokenizer_;
  std::vector<std::string> pieces_;  // text of every token (control tokens empty except the chat markers, which
                                     // the output parser reads), built once so decoding never allocates
  std::vector<int32_t> suppress_;
  mutable std::once_flag constraint_vocab_once_;
  mutable std::shared_ptr<const ConstraintVocab> constraint_vocab_;
};

}  // namespace locus::runtime
