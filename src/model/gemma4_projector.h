// Gemma 4's encoder-free media projectors, read from the mmproj GGUF that llama.cpp's converter writes
// (general.architecture "clip", projector types gemma4uv and gemma4ua; gemma4.md sections 3.3, 8.2, 8.3).
// No transformer runs here: an image patch or an audio frame becomes one LM input vector through a few
// per-token norms and one or two matrix products, and the decoder layers do the rest.
//
//   auto p = Gemma4Projector::load("mmproj.gguf", model.n_embd(), &model.pool());
//   std::vector<float> e(size_t(p->image_tokens(w, h)) * p->n_embd());
//   p->embed_image(rgb, w, h, e);      // w, h multiples of 48 (media::fit_image gives such a picture)
//
// Not thread-safe: one thread uses a projector at a time (it shares the model's pool). Buffers grow to the
// largest input seen and are then reused.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "tensor/matmul.h"
#include "tensor/thread_pool.h"

namespace locus::model {

class Gemma4Projector {
 public:
  static constexpr int kPatch = 48;             // pixels per patch side (16 x the merge factor 3)
  static constexpr int kPatchValues = 48 * 48 * 3;
  static constexpr int kAudioFrame = 640;       // samples per audio token (40 ms at 16 kHz)
  static constexpr int kMaxPatchesPerSide = 1120;  // rows of the position tables

  // Throws gguf::GgufError for a file that is not a Gemma 4 unified projector, or whose projection width is
  // not text_n_embd (the model it would feed), naming what was expected and found. pool must outlive this.
  static std::unique_ptr<Gemma4Projector> load(const std::string& path, uint32_t text_n_embd,
                                               tensor::ThreadPool* pool);
  static std::unique_ptr<Gemma4Projector> load(gguf::GgufFile file, uint32_t text_n_embd, tensor::ThreadPool* pool);
  ~Gemma4Projector();

  bool has_vision() const { return has_vision_; }
  bool has_audio() const { return has_audio_; }
  uint32_t n_embd() const { return n_embd_; }
  const std::string& path() const { return path_; }
  uint64_t size_bytes() const;  // the tensors' bytes

  static int64_t image_tokens(int width, int height) {
    return int64_t{width / kPatch} * (height / kPatch);
  }
  static int64_t audio_tokens(size_t n_samples) {
    return static_cast<int64_t>((n_samples + kAudioFrame - 1) / kAudioFrame);
  }

  // rgb: height rows of width RGB8 pixels. width and height must be positive multiples of 48 with at most 1120
  // patches per side; out holds image_tokens(width, height) rows of n_embd. Throws std::invalid_argument for bad
  // sizes or a projector without vision.
  void embed_image(const uint8_t* rgb, int width, int height, std::span<float> out);
  // 16 kHz mono samples; out holds audio_tokens(samples.size()) rows of n_embd (the last frame zero-padded).
  // Throws std::invalid_argument for no samples or a projector without audio.
  void embed_audio(std::span<const float> samples, std::span<float> out);

 private:
  Gemma4Projector() = default;

  std::optional<gguf::GgufFile> file_;  // the tensors' memory
  std::string path_;
  tensor::ThreadPool* pool_ = nullptr;
  tensor::MatmulScratch scratch_;
  uint32_t n_embd_ = 0;
  bool has_vision_ = false, has_audio_ = false;
  float image_mean_[3] = {0, 0, 0}, image_std_[3] = {1, 1, 1};
  float vision_eps_ = 1e-6f, audio_eps_ = 1e-6f;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace locus::model
