#include "runtime/gemma4_engine.h"

#include "text/output_parser.h"

namespace locus::runtime {

std::unique_ptr<Gemma4Engine> Gemma4Engine::load(const std::string& path, const EngineOptions& options) {
  auto file = gguf::GgufFile::open(path);
  auto tokenizer = text::Tokenizer::from_gguf(file);
  model::Gemma4ModelOptions mo;
  mo.n_ctx = options.n_ctx;
  mo.n_batch = options.n_batch;
  mo.n_threads = options.n_threads;
  mo.mmap = options.mmap;
  mo.load_progress = options.load_progress;
  auto model = model::Gemma4Model::load(std::move(file), mo);
  return std::unique_ptr<Gemma4Engine>(new Gemma4Engine(std::move(model), std::move(tokenizer)));
}

Gemma4Engine::Gemma4Engine(std::unique_ptr<model::Gemma4Model> model, text::Tokenizer tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  pieces_.resize(static_cast<size_t>(tokenizer_.n_vocab()));
  // Control tokens decode to nothing, as in llama.cpp, except the chat markers the output parser reads.
  for (int32_t id = 0; id < tokenizer_.n_vocab(); ++id) {
    std::string& p = pieces_[static_cast<size_t>(id)];
    p = tokenizer_.piece(id, false);
    if (p.empty() && text::is_output_marker(tokenizer_.raw_piece(id))) p = std::string(tokenizer_.raw_piece(id));
  }
  if (const gguf::Value* v = model_->file().find("tokenizer.ggml.suppress_tokens")) {
    if (const gguf::Array* a = v->as_array()) {
      for (const auto& item : a->items) {
        if (!item.is_integer()) continue;
        const int64_t id = std::holds_alternative<int64_t>(item.data) ? std::get<int64_t>(item.data)
                                                                       : static_cast<int64_t>(std::get<uint64_t>(item.data));
        if (id >= 0 && id < tokenizer_.n_vocab()) suppress_.push_back(static_cast<int32_t>(id));
      }
    }
  }
}

void Gemma4Engine::eval(std::span<const int32_t> tokens, int32_t pos, std::span<float> last_logits) {
  model_->forward(tokens, pos, last_logits, false);
}

std::shared_ptr<const ConstraintVocab> Gemma4Engine::constraint_vocab() const {
  std::call_once(constraint_vocab_once_, [this] { constraint_vocab_ = ConstraintVocab::from_tokenizer(tokenizer_); });
  return constraint_vocab_;
}

void Gemma4Engine::truncate(int32_t pos) {
  if (pos < model_->n_past()) model_->truncate(pos);
}

}  // namespace locus::runtime
