// Every SIMD kernel against the scalar one, on every level this CPU supports: activation converters
// byte for byte, dot products within a tight bound for float summation order (their integer parts are
// exact, so any slip shows as a large error), GEMM panels likewise; and the scalar kernels themselves
// against the dequantized product and the reference quantizers.
#include "tensor/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/act_format.h"
#include "tensor/aligned_buffer.h"
#include "tensor/blocks.h"
#include "tensor/kernel_test_data.h"
#include "tensor/quantize.h"

namespace locus::tensor {
namespace {

using kernels::kernel_set;
using kernels::QuantizeActFn;

constexpr double kRelTolerance = 2e-6;

std::string type_name(GgmlType t) { return std::string(gguf::ggml_type_info(t).name); }

struct ActCase {
  GgmlType type;
  QuantizeActFn kernels::ActQuantizers::*field;
};
constexpr ActCase kActCases[] = {
    {GgmlType::Q8_0, &kernels::ActQuantizers::q8_0}, {GgmlType::Q8_0, &kernels::ActQuantizers::q8_0_quad},
    {GgmlType::Q8_1, &kernels::ActQuantizers::q8_1},
    {GgmlType::Q8_K, &kernels::ActQuantizers::q8_k}, {GgmlType::F16, &kernels::ActQuantizers::f16},
    {GgmlType::BF16, &kernels::ActQuantizers::bf16}, {GgmlType::F32, &kernels::ActQuantizers::f32},
};

// The bytes of an activation row that carry meaning (the padding between sections is left unwritten).
std::vector<uint8_t> act_payload(GgmlType type, const uint8_t* act, int64_t n) {
  const ActLayout l = act_layout(type, n);
  std::vector<uint8_t> out;
  auto append = [&](size_t off, size_t bytes) { out.insert(out.end(), act + off, act + off + bytes); };
  const size_t un = static_cast<size_t>(n);
  switch (type) {
    case GgmlType::Q8_0: append(0, un), append(l.d_offset, un / 8), append(l.sum_offset, un / 8); break;
    case GgmlType::Q8_1:
      append(0, un), append(l.d_offset, un / 8), append(l.sum_offset, un / 8), append(l.s_offset, un / 8);
      break;
    case GgmlType::Q8_K:
      append(0, un), append(l.d_offset, un / 64), append(l.sum_offset, un / 8), append(l.sum32_offset, un / 16);
      break;
    case GgmlType::F16: case GgmlType::BF16: append(0, 2 * un); break;
    default: append(0, 4 * un); break;
  }
  return out;
}

std::vector<float> tricky_activations(int64_t n, uint64_t seed) {
  std::vector<float> x = testing::activations(n, seed);
  // A zero block, a block of exact ties after scaling (amax 127 makes the scale 1), one whose largest
  // magnitude appears with both signs, and huge and tiny magnitudes.
  for (int j = 0; j < 32 && j < n; ++j) x[j] = 0;
  if (n >= 64) {
    for (int j = 32; j < 64; ++j) x[j] = static_cast<float>(j - 48) + 0.5f;
    x[32] = 127;
  }
  if (n >= 512) {
    for (int j = 256; j < 512; ++j) x[j] = 0.25f * static_cast<float>(j % 7 - 3);
    x[300] = -3, x[301] = 3;
  }
  if (n >= 1024) {
    for (int j = 512; j < 768; ++j) x[j] *= 1e20f;
    for (int j = 768; j < 1024; ++j) x[j] *= 1e-20f;
  }
  return x;
}

TEST(TensorKernels, ActivationConvertersMatchScalarOnEveryLevel) {
  const auto& scalar = kernel_set(SimdLevel::kScalar);
  for (SimdLevel level : testing::supported_levels()) {
    const auto& set = kernel_set(level);
    for (const ActCase& c : kActCases) {
      for (int64_t n : {256, 512, 1024, 4096, 3840, 160, 96}) {
        if (c.type == GgmlType::Q8_K && n % 256 != 0) continue;
        const std::vector<float> x = tricky_activations(n, 7 + n);
        const size_t bytes = act_layout(c.type, n).row_bytes;
        AlignedBuffer a, b;
        a.ensure(bytes), b.ensure(bytes);
        (scalar.act.*c.field)(x.data(), a.data(), n);
        (set.act.*c.field)(x.data(), b.data(), n);
        EXPECT_EQ(act_payload(c.type, a.data(), n), act_payload(c.type, b.data(), n))
            << simd_level_name(level) << " " << type_name(c.type) << " n=" << n;
      }
    }
  }
}

TEST(TensorKernels, Q8KConverterEqualsTheReferenceQuantizer) {
  constexpr int64_t n = 1024;
  const std::vector<float> x = tricky_activations(n, 3);
  AlignedBuffer act;
  act.ensure(act_layout(GgmlType::Q8_K, n).row_bytes);
  kernel_set(SimdLevel::kScalar).act.q8_k(x.data(), act.data(), n);
  std::vector<BlockQ8_K> ref(n / 256);
  ASSERT_TRUE(quantize_row(GgmlType::Q8_K, x.data(), ref.data(), n));
  const ActLayout l = act_layout(GgmlType::Q8_K, n);
  for (int b = 0; b < n / 256; ++b) {
    EXPECT_EQ(0, std::memcmp(ref[b].qs, act.data() + 256 * b, 256)) << b;
    EXPECT_EQ(ref[b].d, reinterpret_cast<const float*>(act.data() + l.d_offset)[b]) << b;
    EXPECT_EQ(0, std::memcmp(ref[b].bsums, act.data() + l.sum_offset + 32 * b, 32)) << b;
    for (int s = 0; s < 8; ++s) {
      EXPECT_EQ(ref[b].bsums[2 * s] + ref[b].bsums[2 * s + 1],
                reinterpret_cast<const int16_t*>(act.data() + l.sum32_offset)[8 * b + s]);
    }
  }
}

// q8_0 activations follow llama.cpp's CPU code (inverse scale 127 / amax, ties to even), which the
// reference quantizer does not (1 / (amax / 127), ties away): same scales, quants at most 1 apart.
TEST(TensorKernels, Q8_0ConverterDiffersFromTheReferenceQuantizerOnlyInRounding) {
  constexpr int64_t n = 4096;
  const std::vector<float> x = tricky_activations(n, 5);
  AlignedBuffer act;
  act.ensure(act_layout(GgmlType::Q8_0, n).row_bytes);
  kernel_set(SimdLevel::kScalar).act.q8_0(x.data(), act.data(), n);
  std::vector<BlockQ8_0> ref(n / 32);
  ASSERT_TRUE(quantize_row(GgmlType::Q8_0, x.data(), ref.data(), n));
  const ActLayout l = act_layout(GgmlType::Q8_0, n);
  int differing = 0;
  for (int b = 0; b < n / 32; ++b) {
    EXPECT_EQ(fp16_to_fp32(ref[b].d), reinterpret_cast<const float*>(act.data() + l.d_offset)[b]);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int q = static_cast<int8_t>(act.data()[32 * b + j]);
      EXPECT_LE(std::abs(q - ref[b].qs[j]), 1);
      differing += q != ref[b].qs[j];
      sum += q;
    }
    EXPECT_EQ(-sum, reinterpret_cast<const int32_t*>(act.data() + l.sum_offset)[b]);  // stored negated
  }
  EXPECT_GT(differing, 0);  // the ties block
  EXPECT_LT(differing, 64);
}

TEST(TensorKernels, FloatConvertersEqualTheReferenceQuantizers) {
  constexpr int64_t n = 1000;
  const std::vector<float> x = tricky_activations(n, 9);
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
    std::vector<uint16_t> ours(n), ref(n);
    kernels::kernel_set(SimdLevel::kScalar)[t].quantize_act(x.data(), reinterpret_cast<uint8_t*>(ours.data()), n);
    ASSERT_TRUE(quantize_row(t, x.data(), ref.data(), n));
    EXPECT_EQ(ours, ref) << type_name(t);
  }
}

struct Product {
  std::vector<uint8_t> w;
  AlignedBuffer act;
  uint64_t w_row_bytes = 0;
  size_t act_row_bytes = 0;
  GgmlType act_type = GgmlType::F32;
  ActOrder act_order = ActOrder::kNatural;
  std::vector<float> x;  // the activations before conversion, n_tok rows
};

Product make_product(GgmlType type, int64_t n_rows, int64_t n, int n_tok, uint64_t seed, bool raw) {
  Product p;
  p.w = testing::weights(type, n_rows, n, seed, raw);
  p.w_row_bytes = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(n));
  const auto& k = kernel_set(SimdLevel::kScalar)[type];
  p.act_type = k.act_type;
  p.act_order = k.act_order;
  p.act_row_bytes = act_layout(k.act_type, n).row_bytes;
  p.act.ensure(p.act_row_bytes * static_cast<size_t>(n_tok));
  for (int t = 0; t < n_tok; ++t) {
    const std::vector<float> x = testing::activations(n, seed * 31 + t);
    k.quantize_act(x.data(), p.act.data() + t * p.act_row_bytes, n);
    p.x.insert(p.x.end(), x.begin(), x.end());
  }
  return p;
}

// Row lengths: the 12B width, then short ones that leave partial groups (for 32-blocks: a lone four-block
// group, leftover single blocks; for float types: lengths that are not a multiple of the vector width).
int64_t test_n(GgmlType type, int variant) {
  const int64_t block = gguf::ggml_type_info(type).block_elements;
  if (variant == 0) return 3840;
  if (block == 1) return 100 + 37 * variant;
  if (block == 32) return variant == 1 ? 192 : variant == 2 ? 352 : 672;
  return 256 * variant;
}

TEST(TensorKernels, ScalarGemvEqualsTheDequantizedProduct) {
  const auto& scalar = kernel_set(SimdLevel::kScalar);
  for (GgmlType type : testing::kernel_types()) {
    for (int variant = 0; variant < 4; ++variant) {
      const int64_t n = test_n(type, variant), rows = 3;
      Product p = make_product(type, rows, n, 1, 11 + variant, variant == 2);
      std::vector<float> y(rows);
      scalar[type].gemv(p.w.data(), p.w_row_bytes, rows, n, p.act.data(), p.act_row_bytes, 1, y.data(), rows);
      std::vector<float> wf(n), af(n);
      kernels::dequantize_act(p.act_type, p.act_order, p.act.data(), n, af.data());
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_TRUE(dequantize_row(type, p.w.data() + r * p.w_row_bytes, wf.data(), n));
        double ref = 0;
        for (int64_t i = 0; i < n; ++i) ref += double{wf[i]} * af[i];
        double bound = 1e-5 * testing::sum_abs_products(type, p.w.data() + r * p.w_row_bytes, p.act.data(), n);
        if (p.act_type == GgmlType::Q8_1) {
          // q8_1's s is d * sum rounded to fp16 (as llama.cpp stores it), so the min term m * s is off from
          // the dequantized product by up to 2^-11 of itself.
          const auto* s = reinterpret_cast<const float*>(p.act.data() + act_layout(GgmlType::Q8_1, n).s_offset);
          const int block_bytes = static_cast<int>(gguf::ggml_type_info(type).block_bytes);
          for (int64_t b = 0; b < n / 32; ++b) {
            uint16_t m;
            std::memcpy(&m, p.w.data() + r * p.w_row_bytes + b * block_bytes + 2, 2);
            bound += std::fabs(fp16_to_fp32(m) * s[b]) * 0x1p-10;
          }
        }
        EXPECT_NEAR(y[r], ref, bound) << type_name(type) << " n=" << n << " row " << r;
      }
    }
  }
}

TEST(TensorKernels, GemvMatchesScalarOnEveryLevel) {
  const auto& scalar = kernel_set(SimdLevel::kScalar);
  for (SimdLevel level : testing::supported_levels()) {
    if (level == SimdLevel::kScalar) continue;
    const auto& set = kernel_set(level);
    for (GgmlType type : testing::kernel_types()) {
      for (int variant = 0; variant < 8; ++variant) {
        const int64_t n = test_n(type, variant % 4), rows = 7;
        const bool raw = variant >= 4;
        Product p = make_product(type, rows, n, kernels::kMaxGemvTokens, 100 + variant, raw);
        for (int nt = 1; nt <= kernels::kMaxGemvTokens; ++nt) {
          std::vector<float> want(rows * nt), got(rows * nt, NAN);
          scalar[type].gemv(p.w.data(), p.w_row_bytes, rows, n, p.act.data(), p.act_row_bytes, nt, want.data(), rows);
          set[type].gemv(p.w.data(), p.w_row_bytes, rows, n, p.act.data(), p.act_row_bytes, nt, got.data(), rows);
          for (int t = 0; t < nt; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              const double bound = kRelTolerance * testing::sum_abs_products(type, p.w.data() + r * p.w_row_bytes, p.act.data() + t * p.act_row_bytes, n);
              ASSERT_NEAR(got[t * rows + r], want[t * rows + r], bound)
                  << simd_level_name(level) << " " << type_name(type) << " n=" << n << " raw=" << raw
                  << " n_tok=" << nt << " token " << t << " row " << r;
            }
          }
        }
      }
    }
  }
}

TEST(TensorKernels, GemmPanelsMatchScalarGemvOnEveryLevel) {
  const auto& scalar = kernel_set(SimdLevel::kScalar);
  for (SimdLevel level : testing::supported_levels()) {
    const auto& set = kernel_set(level);
    for (GgmlType type : testing::kernel_types()) {
      const kernels::GemmKernels& g = set[type].gemm;
      if (g.panel_rows == 0) continue;
      for (int variant = 0; variant < 4; ++variant) {
        const int64_t n = test_n(type, variant);
        const int rows = variant == 1 ? g.panel_rows - 3 : g.panel_rows;
        const int n_tok = variant == 0 ? 37 : 1 + 4 * variant;
        Product p = make_product(type, rows, n, n_tok, 200 + variant, variant >= 2);
        std::vector<float> want(static_cast<size_t>(rows) * n_tok);
        for (int t = 0; t < n_tok; ++t) {
          scalar[type].gemv(p.w.data(), p.w_row_bytes, rows, n, p.act.data() + t * p.act_row_bytes, p.act_row_bytes, 1,
                            want.data() + t * rows, rows);
        }
        // The same activations in element order, biased to uint8.
        AlignedBuffer biased, panel;
        biased.ensure(p.act_row_bytes * n_tok);
        for (int t = 0; t < n_tok; ++t) {
          g.quantize_act(p.x.data() + t * n, biased.data() + t * p.act_row_bytes, n);
          for (int64_t i = 0; i < n; ++i) biased.data()[t * p.act_row_bytes + i] ^= 0x80;
        }
        panel.ensure(g.panel_bytes(n));
        g.pack(p.w.data(), p.w_row_bytes, rows, n, panel.data());
        std::vector<float> got(want.size(), NAN);
        g.compute(panel.data(), n, biased.data(), p.act_row_bytes, n_tok, got.data(), rows, rows);
        for (int t = 0; t < n_tok; ++t) {
          for (int r = 0; r < rows; ++r) {
            const double bound = kRelTolerance * testing::sum_abs_products(type, p.w.data() + r * p.w_row_bytes, p.act.data() + t * p.act_row_bytes, n);
            ASSERT_NEAR(got[t * rows + r], want[t * rows + r], bound)
                << simd_level_name(level) << " " << type_name(type) << " n=" << n << " rows=" << rows
                << " n_tok=" << n_tok << " token " << t << " row " << r;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace locus::tensor
