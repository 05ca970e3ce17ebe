// Gemma4Projector against plain double-precision loops over the dequantized tensors (gemma4.md 8.2, 8.3), over
// image sizes, audio lengths, storage types and seeds; and what it refuses at load and per call.
#include "model/gemma4_projector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/test_helpers.h"
#include "gguf/writer.h"
#include "tensor/quantize.h"

namespace locus::model {
namespace {

using gguf::GgmlType;
using gguf::Value;

constexpr uint64_t kE = 64;  // the test's text width (a multiple of the Q8_0 block)
constexpr uint64_t kPV = Gemma4Projector::kPatchValues;
constexpr uint64_t kRows = 40;  // position table rows per axis

struct Tensors {
  std::vector<float> patch_w, patch_b, n1w, n1b, n2w, n2b, n3w, n3b, pos, proj_v, proj_a;
};

struct Options {
  GgmlType matrix = GgmlType::F32;
  bool vision = true, audio = true;
  std::string arch = "clip", vision_type = "gemma4uv";
  uint32_t projection_dim = kE;
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
};

// Writes a random projector; returns the values as stored (after the storage type's rounding, so the reference
// computes with exactly what the file holds).
Tensors write_projector(const std::string& path, const Options& o, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto fill = [&](size_t n, float scale, float offset = 0.0f) {
    std::vector<float> v(n);
    for (float& x : v) x = offset + scale * nd(rng);
    return v;
  };
  Tensors t;
  t.patch_w = fill(kPV * kE, 1.0f / std::sqrt(float(kPV)));
  t.patch_b = fill(kE, 0.02f);
  t.n1w = fill(kPV, 0.1f, 1.0f);
  t.n1b = fill(kPV, 0.02f);
  t.n2w = fill(kE, 0.1f, 1.0f);
  t.n2b = fill(kE, 0.02f);
  t.n3w = fill(kE, 0.1f, 1.0f);
  t.n3b = fill(kE, 0.02f);
  t.pos = fill(kE * kRows * 2, 0.5f);
  t.proj_v = fill(kE * kE, 1.0f / std::sqrt(float(kE)));
  t.proj_a = fill(640 * kE, 1.0f / std::sqrt(640.0f));

  gguf::GgufWriter w;
  w.add("general.architecture", Value::string(o.arch));
  w.add("clip.has_vision_encoder", Value::boolean(o.vision));
  w.add("clip.has_audio_encoder", Value::boolean(o.audio));
  w.add("clip.vision.projector_type", Value::string(o.vision_type));
  w.add("clip.vision.projection_dim", Value::u32(o.projection_dim));
  w.add("clip.vision.embedding_length", Value::u32(kE));
  w.add("clip.vision.image_mean", Value::f32_array({o.mean[0], o.mean[1], o.mean[2]}));
  w.add("clip.vision.image_std", Value::f32_array({o.std[0], o.std[1], o.std[2]}));
  w.add("clip.vision.attention.layer_norm_epsilon", Value::f32(1e-6f));
  w.add("clip.audio.projector_type", Value::string("gemma4ua"));
  w.add("clip.audio.projection_dim", Value::u32(o.projection_dim));
  struct T {
    const char* name;
    std::vector<uint64_t> shape;
    std::vector<float>* v;
    GgmlType type;
  };
  const GgmlType wide = o.matrix == GgmlType::F16 ? GgmlType::F16 : GgmlType::F32;
  std::vector<T> ts = {
      {"v.patch_embd.weight", {kPV, kE}, &t.patch_w, wide},
      {"v.patch_embd.bias", {kE}, &t.patch_b, GgmlType::F32},
      {"v.patch_norm.1.weight", {kPV}, &t.n1w, GgmlType::F32},
      {"v.patch_norm.1.bias", {kPV}, &t.n1b, GgmlType::F32},
      {"v.patch_norm.2.weight", {kE}, &t.n2w, GgmlType::F32},
      {"v.patch_norm.2.bias", {kE}, &t.n2b, GgmlType::F32},
      {"v.patch_norm.3.weight", {kE}, &t.n3w, GgmlType::F32},
      {"v.patch_norm.3.bias", {kE}, &t.n3b, GgmlType::F32},
      {"v.position_embd.weight", {kE, kRows, 2}, &t.pos, GgmlType::F32},
      {"mm.input_projection.weight", {kE, kE}, &t.proj_v, o.matrix},
      {"mm.a.input_projection.weight", {640, kE}, &t.proj_a, o.matrix},
  };
  for (const T& x : ts) w.add_tensor(x.name, x.shape, x.type);
  w.begin_data(path);
  for (const T& x : ts) {
    std::vector<uint8_t> bytes(*gguf::ggml_row_bytes(x.type, x.shape[0]) * (x.v->size() / x.shape[0]));
    if (!tensor::quantize_row(x.type, x.v->data(), bytes.data(), static_cast<int64_t>(x.v->size()))) {
      throw std::runtime_error("cannot write " + std::string(x.name));
    }
    // What the file holds, for the reference.
    tensor::MatrixView mv{x.type, bytes.data(), static_cast<int64_t>(x.shape[0]),
                          static_cast<int64_t>(x.v->size() / x.shape[0]), *gguf::ggml_row_bytes(x.type, x.shape[0])};
    for (int64_t r = 0; r < mv.n_out; ++r) tensor::get_row(mv, r, x.v->data() + r * mv.n_in);
    w.write_tensor(bytes);
  }
  w.finish();
  return t;
}

void layer_norm_ref(std::vector<double>& z, const std::vector<float>& w, const std::vector<float>& b) {
  double mean = 0, var = 0;
  for (double x : z) mean += x;
  mean /= double(z.size());
  for (double x : z) var += (x - mean) * (x - mean);
  var /= double(z.size());
  for (size_t i = 0; i < z.size(); ++i) z[i] = (z[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
}

void rms_norm_ref(std::vector<double>& z, double eps) {
  double ss = 0;
  for (double x : z) ss += x * x;
  const double s = 1.0 / std::sqrt(ss / double(z.size()) + eps);
  for (double& x : z) x *= s;
}

std::vector<double> matvec_ref(const std::vector<float>& w, const std::vector<double>& x, uint64_t n_out) {
  std::vector<double> y(n_out, 0.0);
  for (uint64_t o = 0; o < n_out; ++o) {
    for (uint64_t i = 0; i < x.size(); ++i) y[o] += double(w[o * x.size() + i]) * x[i];
  }
  return y;
}

std::vector<double> image_ref(const Tensors& t, const Options& o, const std::vector<uint8_t>& rgb, int w, int h) {
  const int cols = w / 48, rows = h / 48;
  std::vector<double> out;
  for (int py = 0; py < rows; ++py) {
    for (int px = 0; px < cols; ++px) {
      std::vector<double> patch(kPV);
      for (int c = 0; c < 3; ++c) {
        for (int r = 0; r < 48; ++r) {
          for (int col = 0; col < 48; ++col) {
            const double u = rgb[(size_t(py * 48 + r) * w + size_t(px * 48 + col)) * 3 + c] / 255.0;
            patch[size_t(c) * 2304 + size_t(r) * 48 + col] = (u - o.mean[c]) / o.std[c];
          }
        }
      }
      layer_norm_ref(patch, t.n1w, t.n1b);
      std::vector<double> z = matvec_ref(t.patch_w, patch, kE);
      for (uint64_t i = 0; i < kE; ++i) z[i] += t.patch_b[i];
      layer_norm_ref(z, t.n2w, t.n2b);
      for (uint64_t i = 0; i < kE; ++i) z[i] += double(t.pos[size_t(px) * kE + i]) + t.pos[(kRows + py) * kE + i];
      layer_norm_ref(z, t.n3w, t.n3b);
      rms_norm_ref(z, 1e-6);
      const auto e = matvec_ref(t.proj_v, z, kE);
      out.insert(out.end(), e.begin(), e.end());
    }
  }
  return out;
}

std::vector<double> audio_ref(const Tensors& t, const std::vector<float>& s) {
  std::vector<double> out;
  for (size_t f = 0; f * 640 < s.size(); ++f) {
    std::vector<double> frame(640, 0.0);
    for (size_t i = 0; i < 640 && f * 640 + i < s.size(); ++i) frame[i] = s[f * 640 + i];
    rms_norm_ref(frame, 1e-6);
    const auto e = matvec_ref(t.proj_a, frame, kE);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

// Worst error relative to the reference's largest magnitude, and the cosine over everything.
struct Compare {
  double rel = 0, cosine = 0;
};
Compare compare(const std::vector<float>& a, const std::vector<double>& b) {
  double max_b = 0, max_d = 0, ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    max_b = std::max(max_b, std::abs(b[i]));
    max_d = std::max(max_d, std::abs(a[i] - b[i]));
    ab += a[i] * b[i];
    aa += double(a[i]) * a[i];
    bb += b[i] * b[i];
  }
  return {max_d / max_b, ab / std::sqrt(aa * bb)};
}

std::vector<uint8_t> random_rgb(int w, int h, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(size_t(w) * h * 3);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 0xff);
  return v;
}

TEST(Projector, ImagesMatchTheReference) {
  tensor::ThreadPool pool(2);
  int checked = 0;
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0}) {
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      Options o;
      o.matrix = type;
      if (seed == 2) {  // a file with its own normalization
        o.mean[0] = 0.5f, o.mean[1] = 0.4f, o.mean[2] = 0.3f;
        o.std[0] = 0.25f, o.std[1] = 0.5f, o.std[2] = 2.0f;
      }
      const std::string path = gguf::testing::temp_path("model_projector", "img" + std::to_string(seed));
      const Tensors t = write_projector(path, o, seed);
      auto p = Gemma4Projector::load(path, kE, &pool);
      ASSERT_TRUE(p->has_vision() && p->has_audio());
      for (auto [w, h] : {std::pair{48, 48}, {96, 48}, {48, 144}, {240, 192}, {48 * 40, 48}}) {
        const auto rgb = random_rgb(w, h, seed * 31 + w + h);
        std::vector<float> out(size_t(Gemma4Projector::image_tokens(w, h)) * kE);
        p->embed_image(rgb.data(), w, h, out);
        const Compare c = compare(out, image_ref(t, o, rgb, w, h));
        const double tol = type == GgmlType::F32 ? 1e-4 : 3e-2;  // F16/Q8_0 round the activations too
        EXPECT_LT(c.rel, tol) << gguf::ggml_type_info(type).name << " " << w << "x" << h << " seed " << seed;
        EXPECT_GT(c.cosine, type == GgmlType::F32 ? 0.999999 : 0.999) << w << "x" << h;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 30);
}

TEST(Projector, AudioMatchesTheReference) {
  tensor::ThreadPool pool(2);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0}) {
    const std::string path = gguf::testing::temp_path("model_projector", "audio");
    Options o;
    o.matrix = type;
    const Tensors t = write_projector(path, o, 7);
    auto p = Gemma4Projector::load(path, kE, &pool);
    for (size_t n : {size_t{1}, size_t{639}, size_t{640}, size_t{641}, size_t{16000}, size_t{32805}}) {
      std::mt19937_64 rng(n);
      std::normal_distribution<float> nd(0.0f, 0.2f);
      std::vector<float> s(n);
      for (float& x : s) x = nd(rng);
      ASSERT_EQ(Gemma4Projector::audio_tokens(n), int64_t((n + 639) / 640));
      std::vector<float> out(size_t(Gemma4Projector::audio_tokens(n)) * kE);
      p->embed_audio(s, out);
      const Compare c = compare(out, audio_ref(t, s));
      EXPECT_LT(c.rel, type == GgmlType::F32 ? 1e-4 : 3e-2) << gguf::ggml_type_info(type).name << " n " << n;
    }
    // Silence gives the zero vector (a weightless RMSNorm of zeros), not NaN.
    std::vector<float> out(kE), silence(640, 0.0f);
    p->embed_audio(silence, out);
    for (float x : out) EXPECT_EQ(x, 0.0f);
  }
}

TEST(Projector, RefusesWhatItCannotCompute) {
  tensor::ThreadPool pool(1);
  const std::string path = gguf::testing::temp_path("model_projector", "refuse");
  {
    Options o;
    write_projector(path, o, 1);
    auto p = Gemma4Projector::load(path, kE, &pool);
    std::vector<float> out(size_t{4} * kE);
    std::vector<uint8_t> rgb(100 * 100 * 3);
    EXPECT_THROW(p->embed_image(rgb.data(), 100, 96, out), std::invalid_argument);  // not a multiple of 48
    EXPECT_THROW(p->embed_image(rgb.data(), 0, 48, out), std::invalid_argument);
    std::vector<uint8_t> wide(size_t(48 * 41) * 48 * 3);
    std::vector<float> many(size_t{41} * kE);
    EXPECT_THROW(p->embed_image(wide.data(), 48 * 41, 48, many), std::invalid_argument);  // beyond the tables
    std::vector<uint8_t> ok(48 * 48 * 3);
    EXPECT_THROW(p->embed_image(ok.data(), 48, 48, std::span<float>(out.data(), kE - 1)), std::invalid_argument);
    EXPECT_THROW(p->embed_audio({}, out), std::invalid_argument);
    EXPECT_THROW(Gemma4Projector::load(path, kE * 2, &pool), gguf::GgufError);  // another model's width
  }
  for (int variant = 0; variant < 3; ++variant) {
    Options o;
    if (variant == 0) o.arch = "gemma4";
    if (variant == 1) o.vision_type = "gemma3";
    if (variant == 2) o.vision = o.audio = false;
    write_projector(path, o, 2);
    EXPECT_THROW(Gemma4Projector::load(path, kE, &pool), gguf::GgufError) << variant;
  }
  {
    Options o;
    o.audio = false;
    write_projector(path, o, 3);
    auto p = Gemma4Projector::load(path, kE, &pool);
    EXPECT_TRUE(p->has_vision());
    EXPECT_FALSE(p->has_audio());
    std::vector<float> s(640, 0.1f), out(kE);
    EXPECT_THROW(p->embed_audio(s, out), std::invalid_argument);
  }
}

}  // namespace
}  // namespace locus::model
