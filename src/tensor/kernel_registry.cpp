// Builds the kernel table of each SIMD level: scalar first, then each level above it overwriting what it
// implements, then every type's activation converter chosen from the level's converters.
#include <cassert>

#include "tensor/kernels.h"
#include "tensor/matmul.h"

namespace locus::tensor::kernels {
namespace {

QuantizeActFn act_quantizer(const ActQuantizers& a, GgmlType act_type, ActOrder order) {
  switch (act_type) {
    case GgmlType::Q8_0: return order == ActOrder::kQuad ? a.q8_0_quad : a.q8_0;
    case GgmlType::Q8_1: return a.q8_1;
    case GgmlType::Q8_K: return order == ActOrder::kK4 ? a.q8_k_k4 : a.q8_k;
    case GgmlType::F16: return a.f16;
    case GgmlType::BF16: return a.bf16;
    default: return a.f32;
  }
}

KernelSet build(SimdLevel level) {
  KernelSet set;
  set.level = level;
  for (int t = 0; t < kTypeSlots; ++t) set.types[t].act_type = vec_dot_type(static_cast<GgmlType>(t));
  set[GgmlType::Q4_K].act_order = ActOrder::kK4;
  set[GgmlType::Q5_K].act_order = ActOrder::kK4;
  set[GgmlType::Q4_0].act_order = ActOrder::kQuad;
  set[GgmlType::IQ4_NL].act_order = ActOrder::kQuad;
  register_scalar(set);
#if defined(LOCUS_X86_KERNELS)
  if (level == SimdLevel::kAvx2 || level == SimdLevel::kAvx512) register_avx2(set);
  if (level == SimdLevel::kAvx512) register_avx512(set);
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
  if (level == SimdLevel::kNeon) register_neon(set);
#endif
  for (auto& k : set.types) {
    k.quantize_act = act_quantizer(set.act, k.act_type, k.act_order);
    k.gemm.quantize_act = act_quantizer(set.act, k.act_type, ActOrder::kNatural);
  }
  return set;
}

}  // namespace

const KernelSet& kernel_set(SimdLevel level) {
  assert(simd_level_supported(level));
  switch (level) {
    case SimdLevel::kNeon: {
      static const KernelSet set = build(SimdLevel::kNeon);
      return set;
    }
    case SimdLevel::kAvx2: {
      static const KernelSet set = build(SimdLevel::kAvx2);
      return set;
    }
    case SimdLevel::kAvx512: {
      static const KernelSet set = build(SimdLevel::kAvx512);
      return set;
    }
    case SimdLevel::kScalar: break;
  }
  static const KernelSet set = build(SimdLevel::kScalar);
  return set;
}

const TypeKernels& active_kernels(GgmlType type) { return kernel_set(active_simd_level())[type]; }

}  // namespace locus::tensor::kernels
