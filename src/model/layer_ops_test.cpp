#include "model/layer_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "tensor/quant_math.h"

namespace locus::model {
namespace {

std::vector<float> random_vector(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(RmsNorm, MatchesTheDefinitionWithAndWithoutWeight) {
  const auto x = random_vector(3840, 1, 3.0f);
  const auto w = random_vector(3840, 2);
  std::vector<float> y(x.size()), y_plain(x.size());
  rms_norm(x.data(), w.data(), y.data(), static_cast<int64_t>(x.size()), 1e-6f);
  rms_norm(x.data(), nullptr, y_plain.data(), static_cast<int64_t>(x.size()), 1e-6f);
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double scale = 1.0 / std::sqrt(ss / x.size() + 1e-6);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(y[i], x[i] * scale * w[i], 1e-5 * std::abs(x[i] * scale * w[i]) + 1e-7) << i;
    EXPECT_NEAR(y_plain[i], x[i] * scale, 1e-5 * std::abs(x[i] * scale) + 1e-7) << i;
  }
}

TEST(RmsNorm, WorksInPlaceAndKeepsEpsilonForZeros) {
  auto x = random_vector(256, 3);
  std::vector<float> copy = x, out(x.size());
  rms_norm(copy.data(), nullptr, out.data(), 256, 1e-6f);
  rms_norm(x.data(), nullptr, x.data(), 256, 1e-6f);
  EXPECT_EQ(x, out);
  std::vector<float> zeros(64, 0.0f);
  rms_norm(zeros.data(), nullptr, zeros.data(), 64, 1e-6f);
  for (float v : zeros) EXPECT_EQ(v, 0.0f);
}

TEST(Gelu, GoesThroughTheF16TableLikeGgml) {
  for (float x : {-12.0f, -10.0f, -3.7f, -0.5f, -1e-3f, 0.0f, 1e-3f, 0.3f, 1.0f, 2.5f, 9.99f, 10.0f, 40.0f}) {
    float expected;
    if (x <= -10.0f) {
      expected = 0.0f;
    } else if (x >= 10.0f) {
      expected = x;
    } else {
      const float xr = tensor::half_to_float(tensor::float_to_half(x));
      expected = tensor::half_to_float(tensor::float_to_half(gelu_tanh_f32(xr)));
    }
    EXPECT_EQ(gelu_like_ggml(x), expected) << x;
    // And close to the exact GELU-tanh.
    const double exact = 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * double(x) * x * x)));
    EXPECT_NEAR(gelu_like_ggml(x), exact, 2e-3 * std::abs(exact) + 1e-6) << x;
  }
}

TEST(Gelu, GegluMultipliesTheGatedValueByUp) {
  const auto gate = random_vector(1000, 4, 3.0f);
  const auto up = random_vector(1000, 5);
  std::vector<float> out(1000);
  geglu(gate.data(), up.data(), out.data(), 1000);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], gelu_like_ggml(gate[i]) * up[i]) << i;
}

TEST(Rope, AnglesFollowTheNeoxFormulaWithFrequencyFactors) {
  const int n_rot = 512;
  std::vector<float> factors(n_rot / 2);
  for (int i = 0; i < n_rot / 2; ++i) factors[i] = i < 64 ? 1.0f : 1e30f;
  std::vector<float> cache(n_rot);
  for (int32_t pos : {0, 1, 7, 100, 1023, 5000}) {
    rope_angles(pos, n_rot, 1e6f, factors.data(), cache.data());
    for (int i = 0; i < n_rot / 2; ++i) {
      const double theta = pos * std::pow(1e6, -2.0 * i / n_rot) / factors[i];
      // Repeated float multiplication of the angle drifts a little from pow(); ggml does the same.
      EXPECT_NEAR(cache[2 * i], std::cos(theta), 2e-3) << pos << " " << i;
      EXPECT_NEAR(cache[2 * i + 1], std::sin(theta), 2e-3) << pos << " " << i;
      if (i >= 64) {
        EXPECT_EQ(cache[2 * i], 1.0f);
        EXPECT_NEAR(cache[2 * i + 1], 0.0f, 1e-20);
      }
    }
  }
}

TEST(Rope, RotatesPairsHalfAHeadApartAndLeavesTheRestAlone) {
  const int hd = 64, n_rot = 48;
  const auto x = random_vector(hd, 6);
  std::vector<float> cache(n_rot), y = x;
  rope_angles(37, n_rot, 10000.0f, nullptr, cache.data());
  rope_neox(y.data(), n_rot, cache.data());
  for (int i = 0; i < n_rot / 2; ++i) {
    const float c = cache[2 * i], s = cache[2 * i + 1];
    EXPECT_FLOAT_EQ(y[i], x[i] * c - x[i + n_rot / 2] * s);
    EXPECT_FLOAT_EQ(y[i + n_rot / 2], x[i] * s + x[i + n_rot / 2] * c);
    // A rotation keeps each pair's length.
    EXPECT_NEAR(std::hypot(y[i], y[i + n_rot / 2]), std::hypot(x[i], x[i + n_rot / 2]), 1e-5);
  }
  for (int i = n_rot; i < hd; ++i) EXPECT_EQ(y[i], x[i]);
  // Position 0 is the identity.
  std::vector<float> z = x;
  rope_angles(0, n_rot, 10000.0f, nullptr, cache.data());
  rope_neox(z.data(), n_rot, cache.data());
  EXPECT_EQ(z, x);
}

TEST(Rope, DotProductsDependOnlyOnTheDistance) {
  // The point of RoPE: <R(p) q, R(p') k> depends on p - p' only.
  const int n_rot = 256;
  const auto q = random_vector(n_rot, 7), k = random_vector(n_rot, 8);
  auto rotated_dot = [&](int32_t pq, int32_t pk) {
    std::vector<float> a = q, b = k, cache(n_rot);
    rope_angles(pq, n_rot, 10000.0f, nullptr, cache.data());
    rope_neox(a.data(), n_rot, cache.data());
    rope_angles(pk, n_rot, 10000.0f, nullptr, cache.data());
    rope_neox(b.data(), n_rot, cache.data());
    double d = 0;
    for (int i = 0; i < n_rot; ++i) d += double(a[i]) * b[i];
    return d;
  };
  EXPECT_NEAR(rotated_dot(10, 3), rotated_dot(107, 100), 2e-3);
  EXPECT_NEAR(rotated_dot(500, 500), rotated_dot(0, 0), 2e-3);
}

TEST(Softcap, IsCapTimesTanhOfXOverCap) {
  std::vector<float> x = {-1000.0f, -30.0f, -1.0f, 0.0f, 0.5f, 29.0f, 1e6f};
  const std::vector<float> in = x;
  softcap(x.data(), static_cast<int64_t>(x.size()), 30.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(x[i], 30.0 * std::tanh(in[i] / 30.0), 1e-5 * 30) << in[i];
    EXPECT_LE(std::abs(x[i]), 30.0f);
  }
}

}  // namespace
}  // namespace locus::model
