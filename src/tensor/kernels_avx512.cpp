// The AVX-512 level: F/BW/VL/DQ + VNNI kernels, plus AVX512-BF16 where the CPU has it. This file holds
// only the registration; each group of kernels is in its own file (built with the same flags).
#include "tensor/cpu_features.h"
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {

void register_avx512(KernelSet& set) {
  register_avx512_act(set);
  register_avx512_gemv_float(set);
  register_avx512_gemv_legacy(set);
  register_avx512_gemv_k(set);
  register_avx512_gemm(set);
  if (cpu_has_avx512_bf16()) register_avx512_bf16(set);
}

}  // namespace locus::tensor::kernels
