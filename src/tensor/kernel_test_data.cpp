#include "tensor/kernel_test_data.h"

#include <cmath>
#include <cstring>
#include <random>

#include "tensor/kernels.h"
#include "tensor/quantize.h"

namespace locus::tensor::testing {

std::vector<float> activations(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-4.0f, 4.0f);
  std::vector<float> x(static_cast<size_t>(n));
  float scale = 1;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::exp2(log_scale(rng));
    x[static_cast<size_t>(i)] = normal(rng) * scale;
  }
  return x;
}

namespace {

// Offsets of the fp16 scale fields inside one block, which random bytes must not turn into NaN/inf.
std::vector<int> half_fields(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q6_K: return {208};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    default: return {};
  }
}

}  // namespace

std::vector<uint8_t> weights(GgmlType type, int64_t n_rows, int64_t n, uint64_t seed, bool raw_bytes) {
  const uint64_t row_bytes = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(n));
  std::vector<uint8_t> w(row_bytes * static_cast<uint64_t>(n_rows));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const bool plain = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16;
  if (!raw_bytes || plain) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t r = 0; r < n_rows; ++r) {
      for (auto& v : x) v = normal(rng) * 0.05f;
      quantize_row(type, x.data(), w.data() + r * row_bytes, n);
    }
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const auto& info = gguf::ggml_type_info(type);
  for (size_t off = 0; off < w.size(); off += info.block_bytes) {
    for (int f : half_fields(type)) {
      const uint16_t h = fp32_to_fp16(normal(rng) * 0.01f);
      std::memcpy(w.data() + off + f, &h, 2);
    }
  }
  return w;
}

std::vector<GgmlType> kernel_types() {
  std::vector<GgmlType> types;
  const auto& set = kernels::kernel_set(SimdLevel::kScalar);
  for (int t = 0; t < kernels::kTypeSlots; ++t) {
    if (set.types[t].gemv != nullptr) types.push_back(static_cast<GgmlType>(t));
  }
  return types;
}

std::vector<SimdLevel> supported_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kNeon, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (simd_level_supported(l)) levels.push_back(l);
  }
  return levels;
}

double sum_abs_products(GgmlType type, const uint8_t* w_row, const uint8_t* act, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
  dequantize_row(type, w_row, w.data(), n);
  const auto& k = kernels::kernel_set(SimdLevel::kScalar)[type];
  kernels::dequantize_act(k.act_type, k.act_order, act, n, a.data());
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(double{w[static_cast<size_t>(i)]} * a[static_cast<size_t>(i)]);
  return s;
}

}  // namespace locus::tensor::testing
