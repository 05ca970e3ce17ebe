#include "model/layer_ops.h"

#include <array>
#include <cmath>

#include "tensor/quant_math.h"

namespace locus::model {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

float gelu_tanh_f32(float x) {
  constexpr float kCoefA = 0.044715f;
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  // ggml's CPU library is built with floating-point contraction, so its table holds this formula with
  // 1 + a*x*x as one fused multiply-add (without it one f16 table entry comes out a step apart).
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * std::fma(kCoefA * x, x, 1.0f)));
}

namespace {

// GELU of every f16 value, stored as the f16 result widened to float (64K entries, built once).
const std::array<float, 65536>& gelu_table() {
  static const auto* table = [] {
    auto* t = new std::array<float, 65536>;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float f = tensor::half_to_float(static_cast<uint16_t>(h));
      (*t)[h] = tensor::half_to_float(tensor::float_to_half(gelu_tanh_f32(f)));
    }
    return t;
  }();
  return *table;
}

}  // namespace

float gelu_like_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return gelu_table()[tensor::float_to_half(x)];
}

void geglu(const float* gate, const float* up, float* out, int64_t n) {
  const auto& table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    if (g <= -10.0f) {
      out[i] = 0.0f;
    } else {
      out[i] = (g >= 10.0f ? g : table[tensor::float_to_half(g)]) * up[i];
    }
  }
}

void rope_angles(int32_t pos, int n_rot, float base, const float* freq_factors, float* cache) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int i = 0; i < n_rot / 2; ++i) {
    const float ff = freq_factors != nullptr ? freq_factors[i] : 1.0f;
    const float t = theta / ff;
    cache[2 * i] = std::cos(t);
    cache[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope_neox(float* head, int n_rot, const float* cache) {
  const int half = n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const float c = cache[2 * i], s = cache[2 * i + 1];
    const float x0 = head[i], x1 = head[i + half];
    // As ggml's build contracts x0*c - x1*s and x0*s + x1*c: the product with x0 fused into the sum, the
    // other one rounded first (checked bit for bit against llama.cpp by tests/parity's parity_ops_exact).
    head[i] = std::fma(x0, c, -(x1 * s));
    head[i + half] = std::fma(x0, s, x1 * c);
  }
}

void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

}  // namespace locus::model
