#include "model_writer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gguf/writer.h"
#include "model/gemma4_gguf.h"
#include "random_fill.h"
#include "tensor/quantize.h"
#include "vocab.h"

namespace locus::mkmodel {
namespace {

using gguf::GgmlType;
using model::TensorSpec;

// A tensor to write: its layout entry, chosen type and fill rule.
struct Planned {
  TensorSpec spec;
  GgmlType type;
  FillRule rule;
};

constexpr uint64_t kChunkElements = uint64_t{1} << 22;  // values per random stream (4 Mi)

unsigned thread_count(unsigned requested) {
  if (requested > 0) return requested;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : hc;
}

// Generates and converts one tensor chunk by chunk; each chunk is split over the threads by rows.
class TensorStreamer {
 public:
  explicit TensorStreamer(unsigned threads) : threads_(threads) {}

  void write(const Planned& p, uint64_t seed, gguf::GgufWriter& w, const std::function<void(uint64_t)>& on_bytes) {
    const uint64_t row = p.spec.shape[0];
    const uint64_t n = p.spec.n_elements();
    const uint64_t row_bytes = *gguf::ggml_row_bytes(p.type, row);
    // Chunks hold whole rows; small rows are grouped so a chunk has about kChunkElements values.
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkElements / row);
    const uint64_t n_rows = n / row;
    values_.resize(rows_per_chunk * row);
    bytes_.resize(rows_per_chunk * row_bytes);
    for (uint64_t r0 = 0, chunk = 0; r0 < n_rows; r0 += rows_per_chunk, ++chunk) {
      const uint64_t nr = std::min(rows_per_chunk, n_rows - r0);
      run_parallel(nr, [&](uint64_t a, uint64_t b, unsigned part) {
        // The random stream depends on (tensor, chunk, part-of-chunk in fixed 64-row slices), never on threads.
        for (uint64_t s = a; s < b; s += kSliceRows) {
          const uint64_t e = std::min(b, s + kSliceRows);
          Rng rng(stream_seed(seed, p.spec.name, chunk * 1000003 + s / kSliceRows));
          std::span<float> vals(values_.data() + s * row, (e - s) * row);
          fill(p.rule, p.spec, (r0 + s) * row, vals, rng);
          if (!tensor::quantize_row(p.type, vals.data(), bytes_.data() + s * row_bytes,
                                    static_cast<int64_t>(vals.size()))) {
            failed_ = true;
          }
        }
        (void)part;
      });
      if (failed_) {
        throw std::runtime_error("cannot write tensor " + p.spec.name + " as " +
                                 std::string(gguf::ggml_type_info(p.type).name) + ": no quantizer for that type");
      }
      w.write_tensor_chunk({bytes_.data(), nr * row_bytes});
      on_bytes(nr * row_bytes);
    }
    w.end_tensor();
  }

 private:
  static constexpr uint64_t kSliceRows = 64;

  template <typename F>
  void run_parallel(uint64_t n_rows, F&& f) {
    // Split at slice boundaries so the slices (and their streams) are the same for any thread count.
    const uint64_t n_slices = (n_rows + kSliceRows - 1) / kSliceRows;
    const unsigned t = static_cast<unsigned>(std::min<uint64_t>(threads_, n_slices));
    if (t <= 1) {
      f(0, n_rows, 0);
      return;
    }
    std::vector<std::jthread> pool;
    for (unsigned i = 0; i < t; ++i) {
      const uint64_t a = std::min(n_rows, n_slices * i / t * kSliceRows);
      const uint64_t b = std::min(n_rows, n_slices * (i + 1) / t * kSliceRows);
      pool.emplace_back([&f, a, b, i] { f(a, b, i); });
    }
  }

  unsigned threads_;
  std::vector<float> values_;
  std::vector<uint8_t> bytes_;
  std::atomic<bool> failed_{false};
};

WriteStats stream_all(gguf::GgufWriter& w, const std::vector<Planned>& plan, uint64_t seed, unsigned threads,
                      const std::string& path, const Progress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& p : plan) w.add_tensor(p.spec.name, p.spec.shape, p.type);
  uint64_t total = 0;
  WriteStats stats;
  for (const auto& t : w.tensors()) total += t.n_bytes;
  for (const auto& p : plan) stats.n_params += p.spec.n_elements();
  w.begin_data(path);
  TensorStreamer streamer(thread_count(threads));
  uint64_t done = 0;
  for (const auto& p : plan) {
    streamer.write(p, seed, w, [&](uint64_t b) {
      done += b;
      if (progress) progress(done, total);
    });
  }
  w.finish();
  stats.file_bytes = std::filesystem::file_size(path);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace

WriteStats write_random_model(const WriteOptions& o, const Progress& progress) {
  const auto& c = o.preset.config;
  const auto layout = model::gemma4_tensor_layout(c);
  model::QuantMix mix(o.file_type, layout);
  std::vector<Planned> plan;
  for (const auto& t : layout) plan.push_back({t, mix.type_for(t), fill_rule(t, c)});
  for (const auto& p : plan) {
    if (!tensor::can_quantize(p.type)) {
      throw std::runtime_error("type " + std::string(gguf::ggml_type_info(p.type).name) + " (for tensor " +
                               p.spec.name + ") cannot be written yet");
    }
  }

  const Gemma4Vocab vocab = gemma4_vocab_from_hf_tokenizer_json(o.tokenizer_json);
  if (vocab.tokens.size() != c.n_vocab) {
    throw std::runtime_error("tokenizer " + o.tokenizer_json + " has " + std::to_string(vocab.tokens.size()) +
                             " tokens, the model needs " + std::to_string(c.n_vocab));
  }

  gguf::GgufWriter w;
  const auto info = model::file_type_info(static_cast<uint32_t>(o.file_type));
  model::write_gemma4_metadata(w, c, o.file_type,
                               "locus random " + o.preset.name + " " + std::string(info->name));
  add_vocab_metadata(w, vocab);
  if (!o.chat_template.empty()) w.add("tokenizer.chat_template", gguf::Value::string(o.chat_template));
  return stream_all(w, plan, o.seed, o.threads, o.out_path, progress);
}

WriteStats write_random_mmproj(const MmprojOptions& o, const Progress& progress) {
  using gguf::Value;
  using model::TensorRole;
  const uint64_t E = o.text.n_embd;
  constexpr uint64_t kPatch = 48, kPatchValues = kPatch * kPatch * 3, kPosTable = 1120, kFrame = 640;

  gguf::GgufWriter w;
  w.add("general.architecture", Value::string("clip"));
  w.add("general.type", Value::string("mmproj"));
  w.add("general.name", Value::string("locus random gemma4 unified mmproj"));
  w.add("general.file_type", Value::u32(o.matrix_type == GgmlType::F32 ? 0 : 1));
  w.add("clip.has_vision_encoder", Value::boolean(true));
  w.add("clip.has_audio_encoder", Value::boolean(true));
  w.add("clip.vision.projector_type", Value::string("gemma4uv"));
  w.add("clip.vision.embedding_length", Value::u32(static_cast<uint32_t>(E)));
  w.add("clip.vision.projection_dim", Value::u32(static_cast<uint32_t>(E)));
  w.add("clip.vision.feed_forward_length", Value::u32(0));
  w.add("clip.vision.block_count", Value::u32(0));
  w.add("clip.vision.attention.head_count", Value::u32(0));
  w.add("clip.vision.image_size", Value::u32(224));
  w.add("clip.vision.patch_size", Value::u32(16));
  w.add("clip.vision.image_mean", Value::f32_array({0.0f, 0.0f, 0.0f}));
  w.add("clip.vision.image_std", Value::f32_array({1.0f, 1.0f, 1.0f}));
  w.add("clip.vision.attention.layer_norm_epsilon", Value::f32(1e-6f));
  w.add("clip.audio.projector_type", Value::string("gemma4ua"));
  w.add("clip.audio.embedding_length", Value::u32(kFrame));
  w.add("clip.audio.projection_dim", Value::u32(static_cast<uint32_t>(E)));
  w.add("clip.audio.feed_forward_length", Value::u32(0));
  w.add("clip.audio.block_count", Value::u32(0));
  w.add("clip.audio.attention.head_count", Value::u32(0));
  w.add("clip.audio.num_mel_bins", Value::u32(128));
  w.add("clip.audio.attention.layer_norm_epsilon", Value::f32(1e-6f));

  auto spec = [](std::string name, std::vector<uint64_t> shape, TensorRole role) {
    return TensorSpec{std::move(name), std::move(shape), role, -1};
  };
  const FillRule norm{FillRule::Kind::kAroundOne, 0.1f, 1.0f};
  const FillRule bias{FillRule::Kind::kNormal, 0.02f};
  auto dense = [](uint64_t fan_in) { return FillRule{FillRule::Kind::kNormal, 1.0f / std::sqrt(float(fan_in))}; };
  std::vector<Planned> plan = {
      // The patch projection is kept in F32 (F16 when matrices are F16), as the converter does.
      {spec("v.patch_embd.weight", {kPatchValues, E}, TensorRole::kMatrix),
       o.matrix_type == GgmlType::F16 ? GgmlType::F16 : GgmlType::F32, dense(kPatchValues)},
      {spec("v.patch_embd.bias", {E}, TensorRole::kScale), GgmlType::F32, bias},
      {spec("v.patch_norm.1.weight", {kPatchValues}, TensorRole::kNorm), GgmlType::F32, norm},
      {spec("v.patch_norm.1.bias", {kPatchValues}, TensorRole::kScale), GgmlType::F32, bias},
      {spec("v.patch_norm.2.weight", {E}, TensorRole::kNorm), GgmlType::F32, norm},
      {spec("v.patch_norm.2.bias", {E}, TensorRole::kScale), GgmlType::F32, bias},
      {spec("v.patch_norm.3.weight", {E}, TensorRole::kNorm), GgmlType::F32, norm},
      {spec("v.patch_norm.3.bias", {E}, TensorRole::kScale), GgmlType::F32, bias},
      {spec("v.position_embd.weight", {E, kPosTable, 2}, TensorRole::kMatrix), GgmlType::F32,
       FillRule{FillRule::Kind::kNormal, 0.02f}},
      {spec("mm.input_projection.weight", {E, E}, TensorRole::kMatrix), o.matrix_type, dense(E)},
      {spec("mm.a.input_projection.weight", {kFrame, E}, TensorRole::kMatrix), o.matrix_type, dense(kFrame)},
  };
  return stream_all(w, plan, o.seed, o.threads, o.out_path, progress);
}

}  // namespace locus::mkmodel
