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
  std::optional<gguf::GgufFile> mmproj;
  if (!options.mmproj.empty()) {
    mmproj.emplace(gguf::GgufFile::open(options.mmproj));
    mo.max_block = 1120;  // llama.cpp's largest image budget: an image is one block whatever n_batch
  }
  auto model = model::Gemma4Model::load(std::move(file), mo);
  auto engine = std::unique_ptr<Gemma4Engine>(new Gemma4Engine(std::move(model), std::move(tokenizer)));
  engine->media_cache_limit_ = options.media_cache_bytes;
  if (mmproj) {
    engine->projector_ = model::Gemma4Projector::load(std::move(*mmproj), engine->model_->n_embd(), &engine->model_->pool());
    engine->media_tokens_ = MediaTokens::from(engine->tokenizer_);
  }
  return engine;
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

const MediaTokens& Gemma4Engine::media_tokens() const {
  if (!media_tokens_) throw std::invalid_argument("this model was loaded without a projector (mmproj): it takes no media");
  return *media_tokens_;
}

void Gemma4Engine::check_takes(const PreparedMedia& media) const {
  if (projector_ == nullptr) {
    throw std::invalid_argument("the model was loaded without a projector (an mmproj GGUF), so it takes no images, "
                                "audio or video");
  }
  for (const auto& seg : media.segments) {
    if (seg.input == nullptr) continue;
    const bool image = seg.input->kind == MediaInput::Kind::kImage;
    if (image ? !projector_->has_vision() : !projector_->has_audio()) {
      throw std::invalid_argument(std::string("the model's projector has no ") + (image ? "vision" : "audio") +
                                  " encoder, so it takes no " + (image ? "images or video" : "audio"));
    }
  }
}

std::shared_ptr<const std::vector<float>> Gemma4Engine::embed_media(const MediaInput& input) {
  if (projector_ == nullptr) throw std::invalid_argument("this model was loaded without a projector (mmproj): it takes no media");
  const int64_t n = input.tokens();
  for (size_t i = 0; i < media_cache_.size(); ++i) {
    if (media_cache_[i].hash == input.hash && media_cache_[i].tokens == n) {
      CachedRows hit = media_cache_[i];
      media_cache_.erase(media_cache_.begin() + static_cast<std::ptrdiff_t>(i));
      media_cache_.push_back(hit);
      ++media_stats_.hits;
      return hit.rows;
    }
  }
  auto rows = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * model_->n_embd());
  if (input.kind == MediaInput::Kind::kImage) {
    if (!projector_->has_vision()) throw std::invalid_argument("this model's projector has no vision encoder: it takes no images");
    projector_->embed_image(input.rgb.data(), input.width, input.height, *rows);
  } else {
    if (!projector_->has_audio()) throw std::invalid_argument("this model's projector has no audio encoder: it takes no audio");
    projector_->embed_audio(input.samples, *rows);
  }
  ++media_stats_.misses;
  const uint64_t bytes = rows->size() * sizeof(float);
  if (bytes <= media_cache_limit_) {
    media_cache_.push_back({input.hash, n, rows});
    media_stats_.bytes += bytes;
    while (media_stats_.bytes > media_cache_limit_) {
      media_stats_.bytes -= media_cache_.front().rows->size() * sizeof(float);
      media_cache_.erase(media_cache_.begin());
    }
  }
  return rows;
}

void Gemma4Engine::eval_media(const MediaBlock& block, int32_t pos, std::span<float> last_logits) {
  if (block.input == nullptr) throw std::invalid_argument("a media block without its input");
  const auto rows = embed_media(*block.input);
  model_->forward_embeddings(model::kDefaultSequence, *rows, pos, last_logits, false, block.bidirectional);
}

void Gemma4Engine::truncate(int32_t pos) {
  if (pos < model_->n_past()) model_->truncate(pos);
}

}  // namespace locus::runtime
