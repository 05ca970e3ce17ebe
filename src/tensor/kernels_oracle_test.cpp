// Matmul's activation conversion and dot products against llama.cpp's own CPU kernels: the prebuilt
// libggml-cpu variant for this CPU from the node-llama-cpp npm package (installed by scripts/setup; the
// test skips when it is absent), reached through ggml_get_type_traits_cpu. Activations must match byte
// for byte (llama.cpp's from_float for the partner type), dot products to float summation order.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/act_format.h"
#include "tensor/aligned_buffer.h"
#include "tensor/blocks.h"
#include "tensor/kernel_test_data.h"
#include "tensor/kernels.h"
#include "tensor/quantize.h"

namespace locus::tensor {
namespace {

// ggml-cpu.h's struct ggml_type_traits_cpu and function types.
struct GgmlCpuTraits {
  void (*from_float)(const float* x, void* y, int64_t k);
  void (*vec_dot)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc);
  int vec_dot_type;
  int64_t nrows;
};

constexpr const char* kBinDir = LOCUS_TOOLS_DIR "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/";

struct Oracle {
  void* handle = nullptr;
  const GgmlCpuTraits* (*traits)(int type) = nullptr;
  std::string error;
};

const Oracle& oracle() {
  static const Oracle o = [] {
    Oracle r;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char* variant = "x64";
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16") &&
        __builtin_cpu_supports("avx512vbmi")) {
      variant = "zen4";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      variant = "haswell";
    }
    const std::string path = std::string(kBinDir) + "libggml-cpu-" + variant + ".so";
    r.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (r.handle == nullptr) {
      r.error = dlerror();
      return r;
    }
    if (auto init = reinterpret_cast<void (*)()>(dlsym(r.handle, "ggml_cpu_init"))) init();
    r.traits = reinterpret_cast<const GgmlCpuTraits* (*)(int)>(dlsym(r.handle, "ggml_get_type_traits_cpu"));
#else
    r.error = "no prebuilt llama.cpp CPU library for this architecture";
#endif
    return r;
  }();
  return o;
}

std::string type_name(GgmlType t) { return std::string(gguf::ggml_type_info(t).name); }

// Our activation row in ggml's block layout, to compare with llama.cpp's from_float output.
std::vector<uint8_t> as_ggml_blocks(GgmlType act_type, ActOrder order, const uint8_t* act, int64_t n) {
  const ActLayout l = act_layout(act_type, n);
  const auto* qs = reinterpret_cast<const int8_t*>(act);
  const auto* d = reinterpret_cast<const float*>(act + l.d_offset);
  std::vector<uint8_t> out(*gguf::ggml_row_bytes(act_type, static_cast<uint64_t>(n)));
  switch (act_type) {
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < n / 32; ++b) {
        BlockQ8_0 blk;
        blk.d = fp32_to_fp16(d[b]);
        for (int j = 0; j < 32; ++j) blk.qs[j] = qs[act_position(order, 32 * b + j, n)];
        std::memcpy(out.data() + b * sizeof blk, &blk, sizeof blk);
      }
      break;
    case GgmlType::Q8_1:
      for (int64_t b = 0; b < n / 32; ++b) {
        BlockQ8_1 blk;
        blk.d = fp32_to_fp16(d[b]);
        blk.s = fp32_to_fp16(reinterpret_cast<const float*>(act + l.s_offset)[b]);
        std::memcpy(blk.qs, qs + 32 * b, 32);
        std::memcpy(out.data() + b * sizeof blk, &blk, sizeof blk);
      }
      break;
    case GgmlType::Q8_K:
      for (int64_t b = 0; b < n / 256; ++b) {
        BlockQ8_K blk;
        blk.d = d[b];
        for (int j = 0; j < 256; ++j) blk.qs[j] = qs[act_position(order, 256 * b + j, n)];
        std::memcpy(blk.bsums, act + l.sum_offset + 32 * b, 32);
        std::memcpy(out.data() + b * sizeof blk, &blk, sizeof blk);
      }
      break;
    default: std::memcpy(out.data(), act, out.size()); break;
  }
  return out;
}

class TensorKernelsOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    if (oracle().traits == nullptr) GTEST_SKIP() << "llama.cpp CPU library not available: " << oracle().error;
  }
};

TEST_F(TensorKernelsOracle, ActivationsEqualLlamaCppsFromFloat) {
  struct Case {
    GgmlType act_type;
    ActOrder order;
  };
  for (const Case& c : {Case{GgmlType::Q8_0, ActOrder::kNatural}, Case{GgmlType::Q8_0, ActOrder::kQuad},
                        Case{GgmlType::Q8_1, ActOrder::kNatural},
                        Case{GgmlType::Q8_K, ActOrder::kNatural}, Case{GgmlType::Q8_K, ActOrder::kK4},
                        Case{GgmlType::F16, ActOrder::kNatural}, Case{GgmlType::BF16, ActOrder::kNatural}}) {
    const GgmlType act_type = c.act_type;
    const GgmlCpuTraits* t = oracle().traits(static_cast<int>(act_type));
    ASSERT_NE(t->from_float, nullptr) << type_name(act_type);
    for (int64_t n : {256, 3840, 15360}) {
      const std::vector<float> x = testing::activations(n, 1000 + n);
      std::vector<uint8_t> theirs(*gguf::ggml_row_bytes(act_type, static_cast<uint64_t>(n)) + 64);
      t->from_float(x.data(), theirs.data(), n);
      theirs.resize(theirs.size() - 64);
      for (SimdLevel level : testing::supported_levels()) {
        const auto& set = kernels::kernel_set(level);
        kernels::QuantizeActFn q = act_type == GgmlType::Q8_0   ? (c.order == ActOrder::kQuad ? set.act.q8_0_quad : set.act.q8_0)
                                   : act_type == GgmlType::Q8_1 ? set.act.q8_1
                                   : act_type == GgmlType::Q8_K ? (c.order == ActOrder::kK4 ? set.act.q8_k_k4 : set.act.q8_k)
                                   : act_type == GgmlType::F16  ? set.act.f16
                                                                : set.act.bf16;
        AlignedBuffer ours;
        ours.ensure(act_layout(act_type, n).row_bytes);
        q(x.data(), ours.data(), n);
        EXPECT_EQ(as_ggml_blocks(act_type, c.order, ours.data(), n), theirs)
            << type_name(act_type) << " " << simd_level_name(level) << " n=" << n;
      }
    }
  }
}

TEST_F(TensorKernelsOracle, DotProductsEqualLlamaCppsToSummationOrder) {
  for (GgmlType type : testing::kernel_types()) {
    const GgmlCpuTraits* t = oracle().traits(static_cast<int>(type));
    ASSERT_NE(t->vec_dot, nullptr) << type_name(type);
    const GgmlCpuTraits* at = oracle().traits(t->vec_dot_type);
    EXPECT_EQ(t->vec_dot_type, static_cast<int>(kernels::kernel_set(SimdLevel::kScalar)[type].act_type)) << type_name(type);
    for (int64_t n : {256, 3840}) {
      for (bool raw : {false, true}) {
        constexpr int kRows = 5;
        const std::vector<uint8_t> w = testing::weights(type, kRows, n, 40 + n, raw);
        const uint64_t wrb = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(n));
        const std::vector<float> x = testing::activations(n, 50 + n);
        std::vector<uint8_t> theirs_act(*gguf::ggml_row_bytes(static_cast<GgmlType>(t->vec_dot_type), n) + 64);
        at->from_float(x.data(), theirs_act.data(), n);
        for (SimdLevel level : testing::supported_levels()) {
          const auto& k = kernels::kernel_set(level)[type];
          const size_t arb = act_layout(k.act_type, n).row_bytes;
          AlignedBuffer act;
          act.ensure(arb);
          k.quantize_act(x.data(), act.data(), n);
          float ours[kRows];
          k.gemv(w.data(), wrb, kRows, n, act.data(), arb, 1, ours, kRows);
          for (int r = 0; r < kRows; ++r) {
            float theirs = NAN;
            t->vec_dot(static_cast<int>(n), &theirs, 0, w.data() + r * wrb, 0, theirs_act.data(), 0, 1);
            const double bound = 2e-6 * testing::sum_abs_products(type, w.data() + r * wrb, act.data(), n);
            EXPECT_NEAR(ours[r], theirs, bound)
                << type_name(type) << " " << simd_level_name(level) << " n=" << n << " raw=" << raw << " row " << r;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace locus::tensor
