#include "model/gemma4_projector.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <optional>
#include <string>
#include <variant>

#include "model/layer_ops.h"
#include "model/weights.h"

namespace locus::model {

namespace {

using gguf::GgufError;
using gguf::GgufFile;
using gguf::TensorInfo;

// PyTorch's LayerNorm default, which the unified vision embedder uses for its three norms (gemma4.md 8.2).
constexpr float kLayerNormEps = 1e-5f;

// Standard LayerNorm over n values with weight and bias, in ggml's order: mean, centred values, their mean
// square, one scale, then the weight multiply and the bias add as separate float operations.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - mean;
    y[i] = d;
    sq += static_cast<double>(d) * d;
  }
  const float variance = static_cast<float>(sq / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * scale * w[i] + b[i];
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

const TensorInfo& need(const GgufFile& f, std::string_view name, std::vector<uint64_t> shape) {
  return f.require_tensor(name, shape);
}

// A 1-D tensor as floats (F32 or F16 stored), copied: the norms and biases are small.
std::vector<float> read_vector(const GgufFile& f, std::string_view name, uint64_t n) {
  const std::vector<uint64_t> shape{n};
  TensorInfo t = need(f, name, shape);
  t.shape = {n, 1};  // one row, as the matrix view reads it
  tensor::MatrixView v = matrix_view(f, t);
  std::vector<float> out(n);
  tensor::get_row(v, 0, out.data());
  return out;
}

std::optional<std::string> projector_type(const GgufFile& f, const std::string& modality) {
  if (auto t = f.get_string_or("clip." + modality + ".projector_type")) return t;
  return f.get_string_or("clip.projector_type");
}

}  // namespace

struct Gemma4Projector::Impl {
  // Vision.
  tensor::MatrixView patch_embd;  // [6912, E]
  std::vector<float> patch_bias, n1w, n1b, n2w, n2b, n3w, n3b;
  tensor::MatrixView positions;   // [E, 2 * pos_rows]: rows [0, pos_rows) the x table, then the y table
  uint32_t pos_rows = 0;
  tensor::MatrixView proj_v;      // [E, E]
  // Audio.
  tensor::MatrixView proj_a;      // [640, E]
  // Work buffers, grown to the largest input seen.
  std::vector<float> patches;     // [N][6912]
  std::vector<float> mid;         // [N][E]
  std::vector<float> pos_row;     // per thread [2][E]
};

std::unique_ptr<Gemma4Projector> Gemma4Projector::load(const std::string& path, uint32_t text_n_embd,
                                                       tensor::ThreadPool* pool) {
  return load(GgufFile::open(path), text_n_embd, pool);
}

std::unique_ptr<Gemma4Projector> Gemma4Projector::load(GgufFile file, uint32_t text_n_embd, tensor::ThreadPool* pool) {
  if (pool == nullptr) throw std::invalid_argument("Gemma4Projector::load: no thread pool");
  const std::string& path = file.path();
  const std::string arch = file.get_string_or("general.architecture").value_or("(none)");
  if (arch != "clip") {
    throw GgufError(path + ": expected a projector (general.architecture clip), found architecture " + arch);
  }
  auto p = std::unique_ptr<Gemma4Projector>(new Gemma4Projector());
  p->path_ = path;
  p->pool_ = pool;
  p->n_embd_ = text_n_embd;
  p->impl_ = std::make_unique<Impl>();
  Impl& m = *p->impl_;
  const uint64_t E = text_n_embd;

  const bool vision = file.has("clip.has_vision_encoder") && file.get_bool("clip.has_vision_encoder");
  const bool audio = file.has("clip.has_audio_encoder") && file.get_bool("clip.has_audio_encoder");
  if (!vision && !audio) throw GgufError(path + ": the projector has neither a vision nor an audio encoder");

  auto check_width = [&](const std::string& key) {
    if (auto d = file.get_u32_or(key); d && *d != text_n_embd) {
      throw GgufError(path + ": " + key + " is " + std::to_string(*d) + ", but the model's embedding_length is " +
                      std::to_string(text_n_embd) + " (a projector made for another model)");
    }
  };
  if (vision) {
    const std::string type = projector_type(file, "vision").value_or("(none)");
    if (type != "gemma4uv") {
      throw GgufError(path + ": expected vision projector type gemma4uv (Gemma 4's encoder-free vision), found " + type);
    }
    check_width("clip.vision.projection_dim");
    const uint64_t mm = file.get_u32_or("clip.vision.embedding_length").value_or(static_cast<uint32_t>(E));
    m.patch_embd = matrix_view(file, need(file, "v.patch_embd.weight", {kPatchValues, mm}));
    m.patch_bias = read_vector(file, "v.patch_embd.bias", mm);
    m.n1w = read_vector(file, "v.patch_norm.1.weight", kPatchValues);
    m.n1b = read_vector(file, "v.patch_norm.1.bias", kPatchValues);
    m.n2w = read_vector(file, "v.patch_norm.2.weight", mm);
    m.n2b = read_vector(file, "v.patch_norm.2.bias", mm);
    m.n3w = read_vector(file, "v.patch_norm.3.weight", mm);
    m.n3b = read_vector(file, "v.patch_norm.3.bias", mm);
    const TensorInfo* pos = file.find_tensor("v.position_embd.weight");
    if (pos == nullptr) throw GgufError("tensor v.position_embd.weight missing in " + path);
    if (pos->shape.size() != 3 || pos->shape[0] != mm || pos->shape[2] != 2 || pos->shape[1] == 0) {
      throw GgufError("tensor v.position_embd.weight in " + path + ": expected [" + std::to_string(mm) +
                      ", rows, 2], found " + shape_text(pos->shape));
    }
    m.pos_rows = static_cast<uint32_t>(pos->shape[1]);
    TensorInfo flat = *pos;
    flat.shape = {mm, pos->shape[1] * 2};
    m.positions = matrix_view(file, flat);
    m.proj_v = matrix_view(file, need(file, "mm.input_projection.weight", {mm, E}));
    if (file.has("clip.vision.image_mean")) {
      const auto& a = file.get_array("clip.vision.image_mean").items;
      const auto& s = file.get_array("clip.vision.image_std").items;
      auto three_floats = [](const std::vector<gguf::Value>& v) {
        return v.size() == 3 && std::all_of(v.begin(), v.end(), [](const gguf::Value& x) { return x.is_float(); });
      };
      if (!three_floats(a) || !three_floats(s)) {
        throw GgufError(path + ": clip.vision.image_mean and image_std must each hold 3 floats");
      }
      for (size_t c = 0; c < 3; ++c) {
        p->image_mean_[c] = static_cast<float>(std::get<double>(a[c].data));
        p->image_std_[c] = static_cast<float>(std::get<double>(s[c].data));
        if (!(p->image_std_[c] != 0.0f)) throw GgufError(path + ": clip.vision.image_std holds a zero");
      }
    }
    if (file.has("clip.vision.attention.layer_norm_epsilon")) {
      p->vision_eps_ = file.get_f32("clip.vision.attention.layer_norm_epsilon");
    }
    p->has_vision_ = true;
  }
  if (audio) {
    const std::string type = projector_type(file, "audio").value_or("(none)");
    if (type != "gemma4ua") {
      throw GgufError(path + ": expected audio projector type gemma4ua (Gemma 4's encoder-free audio), found " + type);
    }
    check_width("clip.audio.projection_dim");
    m.proj_a = matrix_view(file, need(file, "mm.a.input_projection.weight", {kAudioFrame, E}));
    // llama.cpp fixes this norm's eps at 1e-6 for gemma4ua whatever the file says.
    p->audio_eps_ = 1e-6f;
    p->has_audio_ = true;
  }
  p->file_.emplace(std::move(file));
  return p;
}

Gemma4Projector::~Gemma4Projector() = default;

uint64_t Gemma4Projector::size_bytes() const {
  uint64_t b = 0;
  for (const auto& t : file_->content().tensors) b += t.n_bytes;
  return b;
}

void Gemma4Projector::embed_image(const uint8_t* rgb, int width, int height, std::span<float> out) {
  if (!has_vision_) throw std::invalid_argument(path_ + ": this projector has no vision encoder");
  Impl& m = *impl_;
  if (width <= 0 || height <= 0 || width % kPatch != 0 || height % kPatch != 0) {
    throw std::invalid_argument("embed_image: " + std::to_string(width) + "x" + std::to_string(height) +
                                " is not a positive multiple of 48 on both sides");
  }
  const int cols = width / kPatch, rows = height / kPatch;
  if (static_cast<uint32_t>(cols) > m.pos_rows || static_cast<uint32_t>(rows) > m.pos_rows) {
    throw std::invalid_argument("embed_image: a grid of " + std::to_string(cols) + "x" + std::to_string(rows) +
                                " patches exceeds the position tables' " + std::to_string(m.pos_rows));
  }
  const int64_t n = int64_t{cols} * rows;
  const uint64_t mm = static_cast<uint64_t>(m.patch_embd.n_out), E = n_embd_;
  if (out.size() < static_cast<uint64_t>(n) * E) {
    throw std::invalid_argument("embed_image: out holds " + std::to_string(out.size()) + " floats, expected " +
                                std::to_string(static_cast<uint64_t>(n) * E));
  }
  if (m.patches.size() < static_cast<size_t>(n) * kPatchValues) m.patches.resize(static_cast<size_t>(n) * kPatchValues);
  if (m.mid.size() < static_cast<size_t>(n) * mm) m.mid.resize(static_cast<size_t>(n) * mm);
  const size_t per_thread = 2 * mm;
  if (m.pos_row.size() < per_thread * static_cast<size_t>(pool_->size())) {
    m.pos_row.resize(per_thread * static_cast<size_t>(pool_->size()));
  }

  // Patchify in CHW order (all of R row-major, then G, then B), normalize, and the first LayerNorm.
  pool_->parallel_for(n, [&](int64_t t, int) {
    const int py = static_cast<int>(t / cols), px = static_cast<int>(t % cols);
    float* patch = m.patches.data() + static_cast<size_t>(t) * kPatchValues;
    for (int r = 0; r < kPatch; ++r) {
      const uint8_t* src = rgb + (static_cast<size_t>(py * kPatch + r) * width + static_cast<size_t>(px) * kPatch) * 3;
      for (int col = 0; col < kPatch; ++col) {
        for (int c = 0; c < 3; ++c) {
          const float u = static_cast<float>(src[col * 3 + c]) / 255.0f;
          patch[c * kPatch * kPatch + r * kPatch + col] = (u - image_mean_[c]) / image_std_[c];
        }
      }
    }
    layer_norm(patch, m.n1w.data(), m.n1b.data(), patch, kPatchValues, kLayerNormEps);
  });
  tensor::matmul(m.patch_embd, m.patches.data(), n, m.mid.data(), *pool_, scratch_);
  // Bias, second LayerNorm, the column and row position embeddings, the third LayerNorm, the weightless
  // RMSNorm before the projection.
  pool_->parallel_for(n, [&](int64_t t, int thread) {
    float* z = m.mid.data() + static_cast<size_t>(t) * mm;
    for (uint64_t i = 0; i < mm; ++i) z[i] += m.patch_bias[i];
    layer_norm(z, m.n2w.data(), m.n2b.data(), z, static_cast<int64_t>(mm), kLayerNormEps);
    float* px_row = m.pos_row.data() + per_thread * static_cast<size_t>(thread);
    float* py_row = px_row + mm;
    tensor::get_row(m.positions, t % cols, px_row);
    tensor::get_row(m.positions, m.pos_rows + t / cols, py_row);
    for (uint64_t i = 0; i < mm; ++i) z[i] = (z[i] + px_row[i]) + py_row[i];
    layer_norm(z, m.n3w.data(), m.n3b.data(), z, static_cast<int64_t>(mm), kLayerNormEps);
    rms_norm(z, nullptr, z, static_cast<int64_t>(mm), vision_eps_);
  });
  tensor::matmul(m.proj_v, m.mid.data(), n, out.data(), *pool_, scratch_);
}

void Gemma4Projector::embed_audio(std::span<const float> samples, std::span<float> out) {
  if (!has_audio_) throw std::invalid_argument(path_ + ": this projector has no audio encoder");
  if (samples.empty()) throw std::invalid_argument("embed_audio: no samples");
  Impl& m = *impl_;
  const int64_t n = audio_tokens(samples.size());
  const uint64_t E = n_embd_;
  if (out.size() < static_cast<uint64_t>(n) * E) {
    throw std::invalid_argument("embed_audio: out holds " + std::to_string(out.size()) + " floats, expected " +
                                std::to_string(static_cast<uint64_t>(n) * E));
  }
  if (m.patches.size() < static_cast<size_t>(n) * kAudioFrame) m.patches.resize(static_cast<size_t>(n) * kAudioFrame);
  pool_->parallel_for(n, [&](int64_t t, int) {
    float* frame = m.patches.data() + static_cast<size_t>(t) * kAudioFrame;
    const size_t first = static_cast<size_t>(t) * kAudioFrame;
    const size_t have = std::min<size_t>(kAudioFrame, samples.size() - first);
    std::copy(samples.begin() + static_cast<std::ptrdiff_t>(first),
              samples.begin() + static_cast<std::ptrdiff_t>(first + have), frame);
    std::fill(frame + have, frame + kAudioFrame, 0.0f);
    rms_norm(frame, nullptr, frame, kAudioFrame, audio_eps_);
  });
  tensor::matmul(m.proj_a, m.patches.data(), n, out.data(), *pool_, scratch_);
}

}  // namespace locus::model
