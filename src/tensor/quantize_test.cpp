#include "tensor/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gguf/tensor_type.h"

namespace locus::tensor {
namespace {

using gguf::ggml_type_info;

std::vector<float> gaussian(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0;
  double ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
    ref += double{x[i]} * x[i];
  }
  return std::sqrt(err / ref);
}

struct Bound {
  GgmlType type;
  double max_relative_rms;  // a little above what the format achieves on N(0, 1) weights
};

// About 10% above what each format gives on 64K N(0, 1) weights (this data is fixed, so the
// measurement is exact): a larger error means a broken kernel, not an unlucky draw. Ternary and
// 1-2 bit formats are far off on Gaussian data by design.
constexpr Bound kBounds[] = {
    {GgmlType::F32, 0.0},       {GgmlType::F16, 2.3e-4},    {GgmlType::BF16, 1.9e-3},  {GgmlType::Q8_0, 5.9e-3},
    {GgmlType::Q8_1, 5.9e-3},   {GgmlType::Q8_K, 7.7e-3},   {GgmlType::Q6_K, 1.95e-2}, {GgmlType::Q5_0, 4.7e-2},
    {GgmlType::Q5_1, 4.2e-2},   {GgmlType::Q5_K, 4.0e-2},   {GgmlType::Q4_0, 9.5e-2},  {GgmlType::Q4_1, 8.6e-2},
    {GgmlType::Q4_K, 7.9e-2},   {GgmlType::IQ4_NL, 8.7e-2}, {GgmlType::IQ4_XS, 8.5e-2}, {GgmlType::MXFP4, 1.27e-1},
    {GgmlType::NVFP4, 1.05e-1}, {GgmlType::Q3_K, 1.67e-1},  {GgmlType::Q2_K, 3.3e-1},  {GgmlType::Q2_0, 7.9e-1},
    {GgmlType::TQ2_0, 8.9e-1},  {GgmlType::TQ1_0, 8.9e-1},  {GgmlType::Q1_0, 6.6e-1},
};

TEST(TensorQuantize, RoundTripErrorOnGaussianWeightsIsWithinEachFormatsBound) {
  constexpr int64_t n = 65536;
  const std::vector<float> x = gaussian(n, 42);
  for (const Bound& bound : kBounds) {
    const auto& info = ggml_type_info(bound.type);
    ASSERT_TRUE(can_quantize(bound.type)) << info.name;
    std::vector<uint8_t> q(static_cast<size_t>(n / info.block_elements * info.block_bytes));
    std::vector<float> y(static_cast<size_t>(n));
    ASSERT_TRUE(quantize_row(bound.type, x.data(), q.data(), n)) << info.name;
    ASSERT_TRUE(dequantize_row(bound.type, q.data(), y.data(), n)) << info.name;
    const double rms = relative_rms_error(x, y);
    EXPECT_LE(rms, bound.max_relative_rms) << info.name;
    std::printf("%-8s relative RMS error %.5f (bound %.5f)\n", std::string(info.name).c_str(), rms,
                bound.max_relative_rms);
  }
}

std::vector<float> round_trip(GgmlType type, const std::vector<float>& x) {
  const auto& info = ggml_type_info(type);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(static_cast<size_t>(n / info.block_elements * info.block_bytes));
  std::vector<float> y(x.size());
  EXPECT_TRUE(quantize_row(type, x.data(), q.data(), n));
  EXPECT_TRUE(dequantize_row(type, q.data(), y.data(), n));
  return y;
}

// Weights that sit exactly on a format's grid (with a scale that is exact in fp16) must come back
// unchanged: this pins down the packing of every quant, which error bounds alone would not.
TEST(TensorQuantize, WeightsOnTheFormatsGridRoundTripExactly) {
  std::mt19937_64 rng(3);
  const auto on_grid = [&](std::initializer_list<int> levels, int must_have, float scale, int64_t n, int block) {
    const std::vector<int> choices(levels);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int level = i % block == 0 ? must_have : choices[rng() % choices.size()];
      x[static_cast<size_t>(i)] = scale * static_cast<float>(level);
    }
    return x;
  };
  const auto expect_exact = [](GgmlType type, const std::vector<float>& x) {
    const std::vector<float> y = round_trip(type, x);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(y[i], x[i]) << ggml_type_info(type).name << " element " << i;
    }
  };
  expect_exact(GgmlType::Q8_0, on_grid({-127, -5, 0, 1, 77, 127}, 127, 0.25f, 1024, 32));
  expect_exact(GgmlType::Q4_0, on_grid({-8, -3, 0, 2, 7}, -8, 0.5f, 1024, 32));
  expect_exact(GgmlType::Q5_0, on_grid({-16, -9, 0, 4, 15}, -16, 0.125f, 1024, 32));
  expect_exact(GgmlType::TQ1_0, on_grid({-1, 0, 1}, 1, 2.0f, 1024, 256));
  expect_exact(GgmlType::TQ2_0, on_grid({-1, 0, 1}, -1, 0.5f, 1024, 256));
  expect_exact(GgmlType::Q2_0, on_grid({-1, 0, 1}, 1, 4.0f, 1024, 64));
  expect_exact(GgmlType::Q1_0, on_grid({-1, 1}, 1, 0.75f, 1024, 128));
  expect_exact(GgmlType::Q8_K, on_grid({-127, -64, 0, 3, 127}, 127, 1.0f, 1024, 256));
}

TEST(TensorQuantize, ZeroWeightsRoundTripToZero) {
  for (const Bound& bound : kBounds) {
    const auto& info = ggml_type_info(bound.type);
    const int64_t n = 512;
    std::vector<float> x(n, 0.0f);
    std::vector<uint8_t> q(static_cast<size_t>(n / info.block_elements * info.block_bytes), 0xab);
    std::vector<float> y(n, 1.0f);
    ASSERT_TRUE(quantize_row(bound.type, x.data(), q.data(), n));
    ASSERT_TRUE(dequantize_row(bound.type, q.data(), y.data(), n));
    for (float v : y) ASSERT_EQ(v, 0.0f) << info.name;
  }
}

TEST(TensorQuantize, GridFormatsAndIntegerTypesAreNotConvertible) {
  for (GgmlType type : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S,
                        GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::I8, GgmlType::I32, GgmlType::F64}) {
    EXPECT_FALSE(can_dequantize(type)) << ggml_type_info(type).name;
    EXPECT_FALSE(can_quantize(type)) << ggml_type_info(type).name;
    float out[256];
    uint8_t in[512] = {};
    EXPECT_FALSE(dequantize_row(type, in, out, 256));
  }
}

TEST(TensorQuantize, RowsThatAreNotWholeBlocksAreRefused) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> q(1024);
  EXPECT_FALSE(quantize_row(GgmlType::Q4_K, x.data(), q.data(), 300));
  EXPECT_FALSE(dequantize_row(GgmlType::Q8_0, q.data(), x.data(), 33));
  EXPECT_TRUE(quantize_row(GgmlType::Q8_0, x.data(), q.data(), 288));
}

TEST(TensorQuantize, HalfConversionRoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // the tie above the largest half goes to infinity
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);               // tie to even (zero)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);               // tie to even (two)
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);        // tie, even is down
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);        // tie, even is up
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()), 0x7e00);
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0xfc00)));
  for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), h);
}

TEST(TensorQuantize, Bfloat16ConversionRoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie, even is down
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie, even is up
  EXPECT_EQ(bf16_to_fp32(0xc040), -3.0f);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace locus::tensor
