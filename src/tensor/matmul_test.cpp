// matmul against matmul_ref for every weight type with a kernel (and a few that take the dequantizing
// fallback), on every SIMD level, for token counts that take the gemv path, its token groups and the
// GEMM path, odd row counts and 1 to 3 threads; and the promise that a warm call allocates nothing.
#include "tensor/matmul.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "tensor/counting_new.h"
#include "tensor/cpu_features.h"
#include "tensor/kernel_test_data.h"
#include "tensor/kernels.h"


namespace locus::tensor {
namespace {

std::string type_name(GgmlType t) { return std::string(gguf::ggml_type_info(t).name); }

class LevelGuard {
 public:
  LevelGuard() : saved_(active_simd_level()) {}
  ~LevelGuard() { set_simd_level(saved_); }

 private:
  SimdLevel saved_;
};

struct Shape {
  int64_t n_in;
  int64_t n_out;
};

std::vector<Shape> shapes_for(GgmlType type) {
  const int64_t block = gguf::ggml_type_info(type).block_elements;
  if (block == 1) return {{100, 37}, {768, 21}};
  if (block == 32) return {{96, 37}, {768, 21}};
  return {{256, 37}, {768, 21}};
}

TEST(TensorMatmul, MatchesTheReferenceOnEveryLevelTokenCountAndThreadCount) {
  LevelGuard guard;
  std::vector<GgmlType> types = testing::kernel_types();
  types.push_back(GgmlType::Q2_K);  // no kernel: the dequantizing fallback
  types.push_back(GgmlType::Q3_K);
  std::vector<ThreadPool> pools;
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (GgmlType type : types) {
    for (const Shape& s : shapes_for(type)) {
      const std::vector<uint8_t> wbytes = testing::weights(type, s.n_out, s.n_in, 5 + s.n_in, true);
      const MatrixView w{type, wbytes.data(), s.n_in, s.n_out, *gguf::ggml_row_bytes(type, static_cast<uint64_t>(s.n_in))};
      for (int64_t n_tokens : {1, 2, 7, 64, 130}) {
        const std::vector<float> x = testing::activations(n_tokens * s.n_in, 77 + n_tokens);
        std::vector<float> want(static_cast<size_t>(n_tokens * s.n_out));
        matmul_ref(w, x.data(), n_tokens, want.data());
        // Bound per output: 1e-5 of the sum of |w x| (f32 sums in another order). Q4_1 and Q5_1 pair with q8_1,
        // whose d * sum is stored rounded to fp16 (as in llama.cpp), so their min terms are off by up to
        // 2^-11 of themselves from the dequantized product matmul_ref computes.
        const double rel = vec_dot_type(type) == GgmlType::Q8_1 ? 1e-3 : 1e-5;
        std::vector<float> absx(x.size()), bound(want.size());
        for (size_t i = 0; i < x.size(); ++i) absx[i] = std::fabs(x[i]);
        std::vector<float> row(static_cast<size_t>(s.n_in));
        for (int64_t o = 0; o < s.n_out; ++o) {
          get_row(w, o, row.data());
          for (int64_t t = 0; t < n_tokens; ++t) {
            double a = 0;
            for (int64_t i = 0; i < s.n_in; ++i) a += std::fabs(double{row[i]}) * absx[t * s.n_in + i];
            bound[t * s.n_out + o] = static_cast<float>(rel * a + 1e-30);
          }
        }
        for (SimdLevel level : testing::supported_levels()) {
          ASSERT_TRUE(set_simd_level(level));
          for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
            MatmulScratch scratch;
            std::vector<float> got(want.size(), NAN);
            matmul(w, x.data(), n_tokens, got.data(), *pool, scratch);
            for (size_t i = 0; i < want.size(); ++i) {
              ASSERT_NEAR(got[i], want[i], bound[i])
                  << type_name(type) << " " << simd_level_name(level) << " threads=" << pool->size()
                  << " n_in=" << s.n_in << " n_out=" << s.n_out << " n_tokens=" << n_tokens << " at " << i;
            }
          }
        }
      }
    }
  }
}

TEST(TensorMatmul, WarmCallsAllocateNothing) {
  LevelGuard guard;
  ThreadPool pool(2);
  for (SimdLevel level : testing::supported_levels()) {
    ASSERT_TRUE(set_simd_level(level));
    for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::F32, GgmlType::Q2_K}) {
      const int64_t n_in = 512, n_out = 64;
      const std::vector<uint8_t> wbytes = testing::weights(type, n_out, n_in, 1, false);
      const MatrixView w{type, wbytes.data(), n_in, n_out, *gguf::ggml_row_bytes(type, n_in)};
      for (int64_t n_tokens : {1, 3, 40}) {
        const std::vector<float> x = testing::activations(n_tokens * n_in, 2);
        std::vector<float> y(static_cast<size_t>(n_tokens * n_out));
        MatmulScratch scratch;
        matmul(w, x.data(), n_tokens, y.data(), pool, scratch);
        const long before = allocations_so_far();
        for (int rep = 0; rep < 3; ++rep) matmul(w, x.data(), n_tokens, y.data(), pool, scratch);
        EXPECT_EQ(allocations_so_far(), before) << type_name(type) << " " << simd_level_name(level) << " n_tokens=" << n_tokens;
      }
    }
  }
}

TEST(TensorMatmul, RejectsTypesItCannotMultiply) {
  ThreadPool pool(1);
  MatmulScratch scratch;
  const std::vector<uint8_t> wbytes(66 * 4);
  const MatrixView w{GgmlType::IQ2_XXS, wbytes.data(), 256, 4, 66};
  std::vector<float> x(256), y(4);
  EXPECT_THROW(matmul(w, x.data(), 1, y.data(), pool, scratch), std::invalid_argument);
}

TEST(TensorMatmul, SimdLevelCanBeChosenAmongTheSupportedOnes) {
  LevelGuard guard;
  EXPECT_TRUE(simd_level_supported(SimdLevel::kScalar));
  EXPECT_TRUE(set_simd_level(SimdLevel::kScalar));
  EXPECT_EQ(active_simd_level(), SimdLevel::kScalar);
  for (SimdLevel l : {SimdLevel::kNeon, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    EXPECT_EQ(set_simd_level(l), simd_level_supported(l));
  }
#if defined(__x86_64__)
  EXPECT_FALSE(simd_level_supported(SimdLevel::kNeon));
#endif
}

}  // namespace
}  // namespace locus::tensor
